"""Hostile inventory files, shared by the command-line and the web page tests.

Each :class:`Case` is a file that must be refused as a whole with one precise problem; ``where``
is what follows the file name in the problem (``":3"`` for line 3, ``""`` for the whole file).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Japanese host names whose EUC-JP bytes happen to decode as Shift_JIS (CP932) as well, into
# half-width katakana and symbols: before EUC-JP was recognised they were imported as such.
EUC_JP_CSV = "client,host\nacme,テスト.jp\nacme,ホームページ.jp\n"
EUC_JP_YAML = "clients:\n  - code: yamada\n    name: 株式会社やまだ\n"


def wide_csv(unknown_columns: int) -> bytes:
    """A CSV whose header has ``client``, ``host`` and that many more columns."""
    header = "client,host," + ",".join(f"extra{i}" for i in range(unknown_columns))
    return f"{header}\nacme,www.acme.example\n".encode()


def bad_ports_csv(rows: int) -> bytes:
    """``rows`` endpoints of acme, each with a port that is not a number (one problem each)."""
    lines = [f"acme,h{i}.acme.example,https" for i in range(rows)]
    return ("client,host,port\n" + "\n".join(lines) + "\n").encode()


def unknown_keys_yaml(keys: int) -> bytes:
    """Client acme with ``keys`` made-up fields, one per line from line 3."""
    fields = "".join(f"    k{i}: 1\n" for i in range(keys))
    return f"clients:\n  - code: acme\n{fields}".encode()


def million_rows_csv() -> bytes:
    """A million endpoint rows, within the 10 MB a file may have (7.9 MB)."""
    return b"client,host\n" + b"".join(b"a,%d\n" % i for i in range(1_000_000))


def many_records_yaml() -> bytes:
    return b"clients:\n" + b"".join(b"- {code: c%d}\n" % i for i in range(10_001))


def billion_laughs_yaml() -> bytes:
    """Ten levels of ten aliases each: 10^10 values once expanded."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return ("\n".join(lines) + "\nclients: *a9\n").encode()


def deeply_nested_yaml() -> bytes:
    return b"clients: " + b"[" * 100_000 + b"]" * 100_000 + b"\n"


@dataclass(frozen=True)
class Case:
    name: str
    data: Callable[[], bytes]
    where: str
    message: str
    message_ja: str


REFUSED = [
    Case(
        "surrogate.yaml",
        lambda: b'clients:\n  - code: acme\n    name: "\\ud800"\n',
        ":3",
        "U+D800 is half of a UTF-16 surrogate pair, not a character.",
        "U+D800 は UTF-16 のサロゲートペアの片割れで、文字ではありません。",
    ),
    Case(
        "surrogate-key.yaml",
        lambda: b'clients:\n  - code: acme\n    "\\udc00x": 1\n',
        ":3",
        "U+DC00 is half of a UTF-16 surrogate pair, not a character.",
        "U+DC00 は UTF-16 のサロゲートペアの片割れで、文字ではありません。",
    ),
    Case(
        "nul-escape.yaml",
        lambda: b'clients:\n  - code: acme\n    notes: "a\\0b"\n',
        ":3",
        "Control character U+0000 is not allowed in YAML.",
        "YAML では制御文字 U+0000 は使えません。",
    ),
    Case(
        "nul.csv",
        lambda: b"client,host\nacme,www\x00.acme.example\n",
        ":2",
        "Control character U+0000 is not allowed in CSV.",
        "CSV では制御文字 U+0000 は使えません。",
    ),
    Case(
        "utf16.csv",
        lambda: "client,host\nacme,www.acme.example\n".encode("utf-16-le"),
        "",
        "The file is UTF-16 text; save it as UTF-8.",
        "ファイルが UTF-16 です。UTF-8 で保存してください。",
    ),
    Case(
        "jis.csv",
        lambda: "client,host\nacme,テスト.jp\n".encode("iso2022_jp"),
        ":2",
        "The file is ISO-2022-JP (JIS) text; save it as UTF-8.",
        "ファイルが ISO-2022-JP（JIS コード）です。UTF-8 で保存してください。",
    ),
    Case(
        "euc-jp.csv",
        lambda: EUC_JP_CSV.encode("euc_jp"),
        ":2",
        "The file is EUC-JP text; a CSV file must be UTF-8 or Shift_JIS. Save it as UTF-8: in "
        "Excel as “CSV UTF-8 (comma delimited)”, or with iconv -f EUC-JP -t UTF-8.",
        "ファイルが EUC-JP です。CSV ファイルは UTF-8 か Shift_JIS にしてください。"
        "UTF-8 への変換は、Excel で「CSV UTF-8 (コンマ区切り)」形式で保存するか、"
        "iconv -f EUC-JP -t UTF-8 で行えます。",
    ),
    Case(
        "huge-cell.csv",
        lambda: b"client,host,site\nacme,www.acme.example," + b"x" * 200_000 + b"\n",
        ":2",
        "A cell is longer than 131,072 characters.",
        "131,072 文字を超えるセルがあります。",
    ),
    Case(
        "unclosed.csv",
        lambda: b'client,host\nacme,"www.acme.example\nacme,api.acme.example\n',
        ":2",
        'A quoted cell that starts on this line is not closed (a " is missing).',
        'この行で始まる引用符付きのセルが閉じられていません（" がありません）。',
    ),
    Case(
        "million-rows.csv",
        million_rows_csv,
        ":10002",
        "The file has more than 10,000 rows; import it in parts of at most 10,000 rows.",
        "ファイルが 10,000 行を超えています。10,000 行以下に分けて取り込んでください。",
    ),
]

# Slower to read (a few seconds each of YAML parsing): run for one role.
HELD = [
    Case(
        "many-records.yaml",
        many_records_yaml,
        "",
        "The file has 10,001 records; import it in parts of at most 10,000 records (for "
        "example one file per client).",
        "ファイルに 10,001 件のレコードがあります。10,000 件以下に分けて取り込んでください"
        "（例: 顧客ごとに 1 ファイル）。",
    ),
    Case(
        "laughs.yaml",
        billion_laughs_yaml,
        "",
        "The file is too large, or uses too many aliases (*name).",
        "ファイルが大きすぎるか、エイリアス（*name）が多すぎます。",
    ),
    Case(
        "deep.yaml",
        deeply_nested_yaml,
        "",
        "The file is nested too deeply.",
        "ファイルの入れ子が深すぎます。",
    ),
]
