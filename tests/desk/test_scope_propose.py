"""Mamori proposes a kind of work from the words of a request (MNT-03, MNT-04): the wordings
below are how clients write, in Japanese and English; the expected items come from the
contracts' clauses (001 §3(3), §4; 002 §3(8), §4)."""

from __future__ import annotations

import pytest

from mamori.desk.classify import propose
from mamori.desk.models import Scope
from tests.desk.scope_support import maintenance_contract, request_of, server_contract

pytestmark = [pytest.mark.django_db]

SITE = [
    # 001 §3(3) 軽微なテキスト修正及び画像差替え
    ("会社概要の電話番号の修正", "会社概要ページの電話番号を修正してください。", "text-fix"),
    (
        "誤字のご連絡",
        "トップページのお知らせに誤字がありました（「開催」が「開採」）。",
        "text-fix",
    ),
    ("文言修正のお願い", "採用ページの文言を一部変更したいです。", "text-fix"),
    (
        "トップ画像",
        "トップページのメイン画像を差し替えてください。新しい写真を添付します。",
        "image-swap",
    ),
    ("画像差替え依頼", "ｷｬﾝﾍﾟｰﾝバナーの画像差替えをお願いします", "image-swap"),
    ("Typo on the About page", "There are two typos in the second paragraph.", "text-fix"),
    ("Please replace the image", "Could you replace the image on the top page?", "image-swap"),
    # 001 §4 out of scope
    ("新規ページ作成の件", "採用情報の新規ページを作成してほしいです。", "new-page"),
    (
        "サイトリニューアルについて",
        "来年度にサイトを全面リニューアルしたいと考えています。",
        "renewal",
    ),
    (
        "お問い合わせフォーム",
        "フォームに添付ファイルを送れる機能追加をお願いできますか。",
        "new-feature",
    ),
    ("Recruitment page", "We would like to add a new page for recruitment.", "new-page"),
    ("Redesign", "We plan to redesign the whole site next spring.", "renewal"),
    # Free and out-of-scope work in one request: the estimate comes first.
    (
        "画像と新規ページ",
        "画像を差し替えて、あわせて新しいページも1つ追加してください。",
        "new-page",
    ),
]


@pytest.mark.req("MNT-03")
@pytest.mark.req("MNT-04")
@pytest.mark.parametrize(("subject", "body", "code"), SITE, ids=[s[0] for s in SITE])
def test_it_proposes_the_item_a_client_means(acme, subject, body, code):
    contract = maintenance_contract(acme)
    proposal = propose(request_of(contract, subject, body))
    assert proposal.item is not None and proposal.item.code == code, proposal.as_dict()
    assert proposal.words, "the proposal gives the words it found as its reason"
    expected = "in_scope" if code in ("text-fix", "image-swap") else "out_of_scope"
    assert proposal.scope == expected


@pytest.mark.req("MNT-04")
def test_it_proposes_migration_out_of_scope_for_a_server_contract(acme):
    contract = server_contract(acme)
    proposal = propose(
        request_of(contract, "サーバー移行のご相談", "新しいクラウドへ移行したいです")
    )
    assert proposal.item.code == "server-migration"
    assert proposal.scope == Scope.OUT_OF_SCOPE
    assert "移行" in proposal.words
    config = propose(request_of(contract, "php.iniの設定変更", "upload_max_filesizeを上げたい"))
    assert (config.item.code, config.scope) == ("config-change", Scope.IN_SCOPE)
    assert config.item.clause == "002 §3(8)"


@pytest.mark.req("MNT-03")
def test_full_width_and_case_are_one_spelling(acme):
    contract = maintenance_contract(acme)
    assert propose(request_of(contract, "ＴＹＰＯ ON CONTACT PAGE")).item.code == "text-fix"
    assert propose(request_of(contract, "ＳＳＬ証明書の期限")).item.code == "ssl-support"


def test_english_words_match_whole_words_only(acme):
    contract = maintenance_contract(acme)
    # "ads" (advertising) is not in "uploads"; nothing else matches.
    proposal = propose(request_of(contract, "Uploads folder", "Where do the uploads go?"))
    assert proposal.item is None and proposal.scope == Scope.UNCLASSIFIED


def test_a_proposal_writes_nothing(acme):
    contract = maintenance_contract(acme)
    req = request_of(contract, "誤字の修正", "誤字があります")
    propose(req)
    req.refresh_from_db()
    assert (req.scope, req.catalogue_item_id) == (Scope.UNCLASSIFIED, None)


def test_no_contract_no_proposal(acme):
    from mamori.desk import services

    req = services.create_request(acme, channel="phone", subject="誤字", contract=None)
    req.contract = None
    assert propose(req).item is None
