"""The recent-sessions list and the user's keymap file: pure tests on real files, and one
pilot test that a remapped key works in the app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.filled_session import fill_session
from tests.tui.home_helpers import isolate_user_dirs, notifications, pilot_test
from tests.tui.pilot import wait_for
from tunebook.sessions import BadInput
from tunebook.tui.keymap import check_binding_ids, keymap_path, load_keymap
from tunebook.tui.recent import (
    MAX_RECENT,
    forget,
    load_recent,
    recent_details,
    recent_path,
    remember,
)


@pytest.fixture(autouse=True)
def _user_dirs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_user_dirs(monkeypatch, tmp_path)


def touch(path: Path) -> Path:
    path.write_text("x")
    return path


# -- recent -----------------------------------------------------------------------------------


def test_remember_puts_newest_first_without_duplicates(tmp_path: Path) -> None:
    a, b = touch(tmp_path / "a.tunebook"), touch(tmp_path / "b.tunebook")
    remember(a)
    remember(b)
    remember(a)
    assert [r.path for r in load_recent()] == [a.resolve(), b.resolve()]
    assert recent_path().parent == tmp_path / "state"


def test_remember_stores_absolute_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    touch(tmp_path / "rel.tunebook")
    remember(Path("rel.tunebook"))
    assert load_recent()[0].path == (tmp_path / "rel.tunebook").resolve()


def test_missing_files_stay_listed_as_missing(tmp_path: Path) -> None:
    gone = touch(tmp_path / "gone.tunebook")
    remember(gone)
    gone.unlink()
    [entry] = load_recent()
    assert entry.path == gone.resolve() and entry.exists is False


def test_forget_drops_one_entry_and_leaves_the_file(tmp_path: Path) -> None:
    a, b = touch(tmp_path / "a.tunebook"), touch(tmp_path / "b.tunebook")
    remember(a)
    remember(b)
    assert forget(a.resolve()) is True
    assert [r.path for r in load_recent()] == [b.resolve()]
    assert a.exists()


def test_forget_of_an_unknown_path_writes_nothing(tmp_path: Path) -> None:
    remember(touch(tmp_path / "a.tunebook"))
    before = recent_path().stat().st_mtime_ns, recent_path().read_text()
    assert forget(tmp_path / "other.tunebook") is False
    assert (recent_path().stat().st_mtime_ns, recent_path().read_text()) == before


@pytest.mark.parametrize(
    "content", ["{not json", '{"a": 1}', "", "\x00\x01", '"just a string"']
)
def test_a_corrupt_list_reads_as_empty_and_is_replaced(content: str, tmp_path: Path) -> None:
    recent_path().parent.mkdir(parents=True)
    recent_path().write_text(content)
    assert load_recent() == []
    remember(touch(tmp_path / "a.tunebook"))  # remembering again repairs the file
    assert json.loads(recent_path().read_text()) == [str((tmp_path / "a.tunebook").resolve())]


def test_entries_that_are_not_paths_are_skipped(tmp_path: Path) -> None:
    recent_path().parent.mkdir(parents=True)
    good = str(touch(tmp_path / "a.tunebook"))
    recent_path().write_text(json.dumps([1, None, good, ["x"], "", good]))
    assert [str(r.path) for r in load_recent()] == [good]


def test_the_list_is_capped_at_max_recent(tmp_path: Path) -> None:
    paths = [touch(tmp_path / f"s{i}.tunebook") for i in range(MAX_RECENT + 5)]
    for path in paths:
        remember(path)
    recent = load_recent()
    assert len(recent) == MAX_RECENT
    assert recent[0].path == paths[-1].resolve()
    assert recent[-1].path == paths[5].resolve()
    assert len(json.loads(recent_path().read_text())) == MAX_RECENT


def test_an_unwritable_state_folder_is_not_an_error(tmp_path: Path) -> None:
    recent_path().parent.parent.mkdir(parents=True, exist_ok=True)
    recent_path().parent.write_text("a file where the folder should be")
    remember(touch(tmp_path / "a.tunebook"))  # silently not remembered
    assert load_recent() == []


def test_details_name_the_workload_or_the_problem(tmp_path: Path) -> None:
    session = fill_session(tmp_path / "good.tunebook")
    text = tmp_path / "notes.tunebook"
    text.write_text("not a session at all\n")
    remember(tmp_path / "gone.tunebook")
    remember(text)
    remember(session)
    good, bad, gone = recent_details()
    assert (good.workload, good.problem, good.exists) == ("tabular", "", True)
    assert good.modified == pytest.approx(session.stat().st_mtime)
    assert bad.exists and bad.workload == "" and str(text) in bad.problem
    assert (gone.exists, gone.problem) == (False, "missing")


# -- keymap -----------------------------------------------------------------------------------


def write_keymap(text: str) -> Path:
    path = keymap_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_a_missing_keymap_is_empty() -> None:
    assert not keymap_path().exists()
    assert load_keymap() == {}


def test_a_keymap_maps_ids_to_keys() -> None:
    write_keymap('[keymap]\n"map.next" = "x"\n"app.help" = "f1,question_mark"\n')
    assert load_keymap() == {"map.next": "x", "app.help": "f1,question_mark"}


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[keymap\n", "not valid TOML"),
        ('[keys]\n"map.next" = "x"\n', "'keys'"),
        ('"map.next" = "x"\n', "'map.next'"),
        ("keymap = 3\n", "must be a table"),
        ('[keymap]\n"map.next" = 5\n', "'map.next'"),
        ('[keymap]\n"map.next" = ["x"]\n', "'map.next'"),
        ('[keymap]\n"map.next" = "  "\n', "'map.next'"),
    ],
)
def test_a_bad_keymap_names_the_file_and_key(text: str, named: str) -> None:
    path = write_keymap(text)
    with pytest.raises(BadInput) as caught:
        load_keymap()
    message = str(caught.value)
    assert str(path) in message and named in message
    assert "\n" not in message.strip() or "TOML" in message


def test_an_unknown_binding_id_is_named() -> None:
    path = write_keymap('[keymap]\n"map.nope" = "x"\n')
    with pytest.raises(BadInput, match=r"'map\.nope': no binding has this id"):
        check_binding_ids(load_keymap(), {"map.next"}, path)


@pilot_test
async def test_a_remapped_key_works_in_the_app(tmp_path: Path) -> None:
    from tunebook.tui.app import TunebookApp
    from tunebook.tui.screens.review import ReviewScreen
    from tunebook.tui.screens.session_map import SessionMapScreen

    write_keymap('[keymap]\n"map.next" = "x"\n"app.next" = "x"\n')
    path = fill_session(tmp_path / "s.tunebook")  # its next step: review 'depth'
    app = TunebookApp(path)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, SessionMapScreen))
        await wait_for(pilot, lambda: app.screen.stage_map is not None)
        await pilot.press("n")  # no longer bound to the next step
        await pilot.pause(0.1)
        assert isinstance(app.screen, SessionMapScreen)
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.screen, ReviewScreen))


@pilot_test
async def test_a_bad_keymap_warns_and_the_app_keeps_its_keys(tmp_path: Path) -> None:
    from tunebook.tui.app import TunebookApp
    from tunebook.tui.screens.new_session import NewSessionScreen

    write_keymap('[keymap]\n"home.nope" = "x"\n')
    app = TunebookApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: any("home.nope" in n for n in notifications(app)))
        await pilot.press("n")
        await wait_for(pilot, lambda: isinstance(app.screen, NewSessionScreen))
