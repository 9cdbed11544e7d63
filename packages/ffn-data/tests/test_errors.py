"""`user_errors`: one ``error:`` line and exit status 2 for the user's errors, the traceback otherwise."""

import pytest

from ffn_data import DEBUG_ENV, user_error_message, user_errors


def _raise(error: BaseException) -> None:
    raise error


def test_a_user_error_is_one_line_on_stderr_with_exit_status_2(capsys, monkeypatch):
    monkeypatch.delenv(DEBUG_ENV, raising=False)
    with pytest.raises(SystemExit) as exit, user_errors():
        _raise(FileNotFoundError("data.csv: no such file\n(looked in the working directory)"))
    assert exit.value.code == 2
    assert capsys.readouterr().err == "error: data.csv: no such file (looked in the working directory)\n"


def test_ffn_debug_shows_the_traceback_and_bugs_are_not_user_errors(monkeypatch):
    monkeypatch.setenv(DEBUG_ENV, "1")
    with pytest.raises(ValueError, match="bad value"), user_errors():
        _raise(ValueError("bad value"))
    monkeypatch.delenv(DEBUG_ENV)
    with pytest.raises(KeyError), user_errors():
        _raise(KeyError("a bug"))


def test_the_study_s_own_message_speaks_whichever_side_of_the_chain_it_is_on():
    from ffn_data import DATA_ENV, MIRROR_ENV, fetch

    # ours outside: the data layer translates the socket error it was raised from
    env = {DATA_ENV: "/nonexistent-cache", MIRROR_ENV: "http://127.0.0.1:9"}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        try:
            fetch("UMLS")
        except OSError as error:
            assert user_error_message(error).startswith(
                "UMLS is not in /nonexistent-cache and http://127.0.0.1:9/"
            )
            assert error.__cause__ is not None  # the socket error is there, with FFN_DEBUG=1


def test_the_innermost_user_error_of_the_shown_chain_speaks():
    try:
        try:
            raise FileNotFoundError("root/train not found")
        except FileNotFoundError as inner:
            raise ValueError("Does not validate against any of the Union subtypes\nErrors: ...") from inner
    except ValueError as wrapped:
        assert user_error_message(wrapped) == "root/train not found"
    try:
        try:
            raise OSError("cannot identify image file <_io.BufferedReader name='x.png'>")
        except OSError:
            raise ValueError("x.png: not an image file") from None  # the hidden context stays hidden
    except ValueError as clean:
        assert user_error_message(clean) == "x.png: not an image file"
    assert user_error_message(KeyError("a bug")) is None


def test_an_error_re_raised_from_a_loader_worker_gives_its_original_message():
    message = (
        "Caught ValueError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
        '  File "x.py", line 1, in <module>\nValueError: cat/broken.png: not an image file\n'
    )
    assert user_error_message(ValueError(message)) == "cat/broken.png: not an image file"
