from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from app.organisation.service import LOGO_MAX_BYTES


class OrganisationForm(FlaskForm):
    name = StringField(
        "Organisation name",
        validators=[Optional(), Length(max=200)],
        description="Shown on survey pages and in the footer of every email.",
    )
    logo = FileField(
        "Logo",
        description=f"PNG, JPEG, GIF or WebP, up to {LOGO_MAX_BYTES // 1024} KB; shown on survey pages.",
    )
    remove_logo = BooleanField("Remove the current logo")
    brand_colour = StringField(
        "Brand colour",
        validators=[Optional(), Length(max=7)],
        description="As #rrggbb, for headings and buttons on survey pages. It needs a contrast of at "
        "least 4.5:1 on white to be readable; a lighter colour is refused with a darker suggestion.",
    )
    postal_address = TextAreaField(
        "Postal address",
        validators=[Optional(), Length(max=500)],
        description="Printed in the footer of every email, as anti-spam laws (CAN-SPAM) require.",
        render_kw={"rows": 3},
    )
