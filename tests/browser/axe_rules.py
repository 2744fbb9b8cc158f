"""The axe options every browser test runs: WCAG 2.1 A and AA, plus `landmark-unique`.

`landmark-unique` is a best-practice rule, outside the WCAG tags: it is switched on by name (an enabled rule
runs whatever `runOnly` says), because two landmarks of one kind and one name leave a screen reader user
unable to tell the page's menus, searches and regions apart."""

WCAG_21_AA = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "rules": {"landmark-unique": {"enabled": True}},
    "resultTypes": ["violations"],
}
