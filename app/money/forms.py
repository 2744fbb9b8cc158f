from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import InputRequired, Length


class CurrencyForm(FlaskForm):
    currency = StringField(
        "Reporting currency",
        validators=[InputRequired(), Length(max=3)],
        description="The three-letter ISO code of every total in reports and on the dashboard, e.g. USD.",
    )


class RateForm(FlaskForm):
    month = StringField(
        "Month",
        validators=[InputRequired(), Length(max=10)],
        description="As YYYY-MM: the rate converts deals closed in that month.",
    )
    currency = StringField(
        "Currency", validators=[InputRequired(), Length(max=3)], description="For example EUR."
    )
    rate = StringField(
        "Rate",
        validators=[InputRequired(), Length(max=30)],
        description="What one unit of that currency is worth in the reporting currency, for example 1.0825.",
    )


class RateImportForm(FlaskForm):
    file = FileField(
        "Rates file (CSV)",
        description="A header row month, currency, rate; then one rate per line, the month as YYYY-MM.",
    )
