"""Template filters for notices: problem codes in the words of the active language."""

from django import template

from mamori.certificates.problems import problem_label, problem_text

register = template.Library()


@register.filter
def problem_explained(code: str) -> str:
    return problem_text(code)


@register.filter
def problem_name(code: str) -> str:
    return problem_label(code)
