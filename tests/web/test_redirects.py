"""After sign-in, `next` only ever leads to a path on this site (issue 16, item 1)."""
from urllib.parse import quote

import pytest
from conftest import PASSWORD

from paydash.web.redirects import safe_next

# Values a browser would follow off-site (or that are not a path at all), from the usual
# open-redirect bypass lists: tabs/newlines, backslashes, encoded slashes, userinfo, schemes,
# look-alike unicode and control characters.
BYPASSES = [
    "//evil.example", "///evil.example", "////evil.example/x", "/\t/evil.example/phish",
    "/\n/evil.example", "/\r\n/evil.example", "\t//evil.example", " //evil.example",
    "/\\evil.example", "\\\\evil.example", "\\/evil.example", "/\\/evil.example",
    "/%2Fevil.example", "/%2fevil.example", "%2F%2Fevil.example", "/%5Cevil.example",
    "/%5cevil.example", "/%252Fevil.example", "/%09/evil.example", "/%0A/evil.example",
    "/%0D/evil.example", "/%00/evil.example", "/%E3%80%80/evil.example",
    "https://evil.example", "http:evil.example", "https:/evil.example", "javascript:alert(1)",
    "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)", "//user@evil.example", "/@evil.example", "/x@evil.example/",
    "@evil.example", "evil.example", "./evil", "../evil", "?next=//evil.example",
    "\uff0f\uff0fevil.example", "/\uff0fevil.example", "\u3002evil.example", "/\u2025/evil",
    "\x00//evil.example", "\x1f//evil.example", "/\x7f/evil", "", "   ",
    "/" + "a" * 3000,
]
SAFE = ["/", "/jobs", "/uploads/12?tab=errors", "/api/jobs?state=FAILURE#top",
        "/dashboard?period=12m&department=Sales", "/payroll/2024/10", "/admin/audit?who=a%40b.c"]


@pytest.mark.parametrize("target", BYPASSES)
def test_a_bypass_is_never_accepted(target):
    assert safe_next(target) is None


@pytest.mark.parametrize("target", SAFE)
def test_a_same_site_path_is_kept(target):
    assert safe_next(target) == target


@pytest.mark.parametrize("target", BYPASSES)
def test_signing_in_with_a_bypass_goes_to_the_dashboard_and_never_errs(app, people, target):
    response = app.test_client().post(f"/login?next={quote(target, safe='')}",
                                      data={"email": "hr@acme.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_signing_in_with_a_local_next_goes_there(app, people):
    response = app.test_client().post("/login?next=%2Fjobs%3Fstate%3DFAILURE",
                                      data={"email": "hr@acme.test", "password": PASSWORD})
    assert response.headers["Location"] == "/jobs?state=FAILURE"
