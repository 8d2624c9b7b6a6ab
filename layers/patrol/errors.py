"""The one error type of patrol planning and checking, with a bilingual message."""

from __future__ import annotations


class PatrolInputError(ValueError):
    """Bad input for patrol planning or checking (a GPX file, a network, a parameter).

    ``str(err)`` reads "中文 / English", Chinese first, so the CLI, the API and
    the upload page can show it as it is.

    Parameters
    ----------
    zh : str
        The message in Chinese.
    en : str
        The same message in English.
    """

    def __init__(self, zh: str, en: str) -> None:
        self.zh = zh
        self.en = en
        super().__init__(f"{zh} / {en}")
