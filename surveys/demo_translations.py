"""The win/loss survey in German and French, as a translator would deliver it (the demo's European customers).

Keys name questions by position ("q3.option.price"); `translate_win_loss` moves them to the version's own.
"""

from __future__ import annotations

from datetime import datetime

from surveys.models import SurveyVersion
from surveys.translations import save_translation

_FACTORS_DE = {
    "price": "Preis",
    "product_fit": "Produkteignung oder Funktionsumfang",
    "ease_of_use": "Benutzerfreundlichkeit",
    "integrations": "Integration in unsere Tools",
    "relationship": "Beziehung zu deren Team",
    "implementation": "Einführungsaufwand oder -risiko",
    "timing": "Zeitpunkt",
    "support": "Support und Service",
    "budget": "Budget",
}
_FACTORS_FR = {
    "price": "Prix",
    "product_fit": "Adéquation du produit ou fonctionnalités",
    "ease_of_use": "Facilité d’utilisation",
    "integrations": "Intégrations avec nos outils",
    "relationship": "Relation avec leur équipe",
    "implementation": "Effort ou risque de mise en œuvre",
    "timing": "Calendrier",
    "support": "Support et service",
    "budget": "Budget",
}


def _options(prefix: str, labels: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}.option.{value}": label for value, label in labels.items()}


WIN_LOSS_TRANSLATIONS: dict[str, dict[str, str]] = {
    "de": {
        "title": "Helfen Sie uns, Ihre Entscheidung zu verstehen",
        "introduction": (
            "Sie haben sich vor Kurzem für eine andere Lösung als unsere entschieden. Ein paar kurze Fragen, "
            "etwa zwei Minuten. Ihre Antworten werden laufend gespeichert, Sie können also jederzeit "
            "unterbrechen und später über denselben Link weitermachen."
        ),
        "thank_you": (
            "Vielen Dank. Ihre Antworten wurden gespeichert und gehen direkt an das Team, das über unsere "
            "Verbesserungen entscheidet. Wir melden uns nur bei Ihnen, wenn Sie darum gebeten haben."
        ),
        "q1.text": "Was war der Hauptgrund für Ihre Entscheidung für eine andere Lösung?",
        **_options("q1", _FACTORS_DE),
        "q1.option.kept_incumbent": "Wir bleiben bei unserem bisherigen Anbieter",
        "q1.option.no_decision": "Wir haben beschlossen, vorerst nichts zu kaufen",
        "q2.text": "Für welchen Anbieter haben Sie sich entschieden?",
        "q2.help": "Lassen Sie das Feld leer, wenn Sie es lieber nicht sagen möchten.",
        "q3.text": "Welche anderen Faktoren waren wichtig?",
        "q3.help": "Kreuzen Sie alles Zutreffende an.",
        **_options("q3", _FACTORS_DE),
        "q4.text": "Wie bewährt sich die gewählte Lösung bisher?",
        "q4.help": "1 ist sehr schlecht, 5 ist ausgezeichnet.",
        "q5.text": "Wann endet Ihr aktueller Vertrag?",
        "q5.help": "Ein ungefähres Datum genügt.",
        "q6.text": "Wären Sie später zu einem kurzen Gespräch mit uns bereit?",
        "q7.text": "Wann würde Ihnen ein Gespräch passen?",
        "q7.option.within_month": "Innerhalb eines Monats",
        "q7.option.one_to_three_months": "In einem bis drei Monaten",
        "q7.option.six_months": "In sechs Monaten oder später",
        "q8.text": "Hätten wir etwas anders machen können?",
        "q8.help": "Optional. Ein oder zwei Sätze helfen uns am meisten.",
        "message.email_subject": "Zwei Minuten zu Ihrer Entscheidung für einen anderen Anbieter?",
        "message.email_text": (
            "Guten Tag {{ first_name }},\n\n"
            "Sie haben sich bei {{ company }} vor Kurzem für eine andere Lösung als unsere entschieden. "
            "Ihre ehrliche Einschätzung wäre uns viel wert: Es dauert etwa zwei Minuten, und Sie können "
            "jederzeit unterbrechen und später über denselben Link weitermachen.\n\n"
            "{{ survey_link }}\n\n"
            "Vielen Dank,\n{{ sender }}\n\n"
            "Sie möchten diese E-Mails nicht mehr erhalten? {{ opt_out_link }}\n"
        ),
        "message.reminder_subject": "Noch zwei Minuten Zeit für Ihre Einschätzung?",
        "message.reminder_text": (
            "Guten Tag {{ first_name }},\n\n"
            "vor einigen Tagen haben wir Sie um Ihre Einschätzung gebeten, warum sich {{ company }} "
            "für einen anderen Anbieter entschieden hat. Falls Sie zwei Minuten Zeit haben, "
            "hilft uns Ihre Antwort sehr.\n\n"
            "{{ survey_link }}\n\n"
            "Vielen Dank,\n{{ sender }}\n\n"
            "Sie möchten diese E-Mails nicht mehr erhalten? {{ opt_out_link }}\n"
        ),
        "message.sms_text": (
            "Hallo {{ first_name }}, hier {{ sender }}: 2 Minuten zu Ihrer Anbieterwahl? "
            "{{ survey_link }} Abmelden: {{ opt_out_link }}"
        ),
    },
    "fr": {
        "title": "Aidez-nous à comprendre votre décision",
        "introduction": (
            "Vous avez récemment choisi une autre solution que la nôtre. Quelques questions courtes, environ "
            "deux minutes. Vos réponses sont enregistrées au fur et à mesure : vous pouvez vous arrêter et "
            "reprendre plus tard avec le même lien."
        ),
        "thank_you": (
            "Merci. Vos réponses ont été enregistrées et parviennent directement à l’équipe qui décide de "
            "nos améliorations. Nous ne vous recontacterons que si vous l’avez demandé."
        ),
        "q1.text": "Quelle est la principale raison pour laquelle vous avez choisi une autre solution ?",
        **_options("q1", _FACTORS_FR),
        "q1.option.kept_incumbent": "Nous avons gardé notre fournisseur actuel",
        "q1.option.no_decision": "Nous avons décidé de ne rien acheter pour l’instant",
        "q2.text": "Quel fournisseur avez-vous choisi ?",
        "q2.help": "Laissez ce champ vide si vous préférez ne pas le dire.",
        "q3.text": "Quels autres facteurs ont compté ?",
        "q3.help": "Cochez toutes les réponses qui s’appliquent.",
        **_options("q3", _FACTORS_FR),
        "q4.text": "Comment se passe la solution choisie jusqu’à présent ?",
        "q4.help": "1 correspond à très mauvais, 5 à excellent.",
        "q5.text": "Quand votre contrat actuel prend-il fin ?",
        "q5.help": "Une date approximative suffit.",
        "q6.text": "Seriez-vous d’accord pour un court échange avec nous plus tard ?",
        "q7.text": "Quand un échange vous conviendrait-il ?",
        "q7.option.within_month": "D’ici un mois",
        "q7.option.one_to_three_months": "Dans un à trois mois",
        "q7.option.six_months": "Dans six mois ou plus",
        "q8.text": "Aurions-nous pu faire quelque chose différemment ?",
        "q8.help": "Facultatif. Une phrase ou deux nous aident le plus.",
        "message.email_subject": "Deux minutes sur votre choix d’un autre fournisseur ?",
        "message.email_text": (
            "Bonjour {{ first_name }},\n\n"
            "Chez {{ company }}, vous avez récemment préféré une autre solution à la nôtre. "
            "Votre avis sincère nous serait précieux : cela prend environ deux minutes, et vous pouvez "
            "vous arrêter et reprendre plus tard avec le même lien.\n\n"
            "{{ survey_link }}\n\n"
            "Merci,\n{{ sender }}\n\n"
            "Vous ne souhaitez plus recevoir ces e-mails ? {{ opt_out_link }}\n"
        ),
        "message.reminder_subject": "Deux minutes pour nous donner votre avis ?",
        "message.reminder_text": (
            "Bonjour {{ first_name }},\n\n"
            "Il y a quelques jours, nous vous avons demandé pourquoi {{ company }} a choisi un autre "
            "fournisseur. Si vous avez deux minutes, votre réponse nous aiderait beaucoup.\n\n"
            "{{ survey_link }}\n\n"
            "Merci,\n{{ sender }}\n\n"
            "Vous ne souhaitez plus recevoir ces e-mails ? {{ opt_out_link }}\n"
        ),
        "message.sms_text": (
            "Bonjour {{ first_name }}, ici {{ sender }} : 2 min sur votre choix de fournisseur ? "
            "{{ survey_link }} Désabonnement : {{ opt_out_link }}"
        ),
    },
}


def by_question_id(version: SurveyVersion, texts: dict[str, str]) -> dict[str, str]:
    """Keys naming questions by position ("q3.help") moved to the version's question ids ("q412.help")."""
    ids = {question.position: question.id for question in version.questions}
    out = {}
    for key, text in texts.items():
        head, dot, rest = key.partition(".")
        if head.startswith("q") and head[1:].isdigit():
            head = f"q{ids[int(head[1:])]}"
        out[f"{head}{dot}{rest}"] = text
    return out


def translate_win_loss(
    version: SurveyVersion, *, now: datetime, languages: tuple[str, ...] = ("de", "fr")
) -> None:
    """Give a draft of the win/loss template its German and French translations."""
    for language in languages:
        save_translation(version, language, by_question_id(version, WIN_LOSS_TRANSLATIONS[language]), now=now)
