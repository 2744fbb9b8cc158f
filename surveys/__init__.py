"""Surveys: definitions, versions, invitations, respondent pages and responses."""
