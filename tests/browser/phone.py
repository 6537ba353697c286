"""What the phone-width browser tests share: a 390 px page signed in as a user, and a measure of
what sticks out of the viewport."""

from __future__ import annotations

from django.conf import settings
from django.test import Client as DjangoClient

PHONE = {"width": 390, "height": 844}

# Every element's right edge (or the document's scroll width) beyond the viewport, as
# "tag.class (text): right edge", for the failure message. Elements inside their own sideways
# scroller (a table wrapper, a <pre>) and hidden ones do not count.
OVERFLOW = """
() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  if (document.scrollingElement.scrollWidth > width) {
    out.push(`document ${document.scrollingElement.scrollWidth} > ${width}`);
  }
  function clipped(el) {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const o = getComputedStyle(p).overflowX;
      if (o === "auto" || o === "scroll" || o === "hidden") return true;
    }
    return false;
  }
  for (const el of document.body.querySelectorAll("*")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > width + 0.5 && !clipped(el)) {
      const text = (el.innerText || "").trim().slice(0, 40).replace(/\\s+/g, " ");
      out.push(`${el.tagName.toLowerCase()}.${el.className} (${text}): ${Math.round(r.right)}`);
    }
  }
  return out.slice(0, 8);
}
"""


def sign_in_as(context, live_server, user) -> None:
    """Give the browser context a session of ``user`` (the sign-in form has its own tests)."""
    django_client = DjangoClient()
    django_client.force_login(user)
    cookie = django_client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie.value, "url": live_server.url}]
    )


def overflow(page) -> list[str]:
    return page.evaluate(OVERFLOW)


def shoot(page, name: str):
    """A full-page screenshot in test-artifacts/<name>.png, for a person to look at."""
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def other_language(page, language: str, data: tuple[str, ...] = ()) -> list[str]:
    """Words of the other language in the page's main text: Japanese characters on an English
    page, English UI sentences of the catalogue on a Japanese one (the rule of
    tests/web/test_one_language.py, here on what the browser shows). ``data``: texts on the
    page that are data, not UI (an advisory's summary from its feed), left out."""
    from tests.web.test_one_language import (
        ADDRESS,
        JAPANESE,
        LANGUAGE_NAMES,
        english_sentences,
    )

    # URLs, paths, e-mail addresses are neither language.
    text = ADDRESS.sub(" ", page.locator("main").inner_text())
    for item in data:
        text = text.replace(item, " ")
    if language == "en":
        return [w for w in JAPANESE.findall(text) if w not in LANGUAGE_NAMES]
    for name in LANGUAGE_NAMES:
        text = text.replace(name, " ")
    return [p.pattern for p in english_sentences() if p.search(text)]
