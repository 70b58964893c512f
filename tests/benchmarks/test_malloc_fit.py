"""benchmarks/malloc_fit.py: both models train through fit in fresh processes, with and
without the malloc setting, and the report says which was which. Never asserts a time."""

from benchmarks import malloc_fit


def test_the_cdnn_trains_with_and_without_the_setting(capsys):
    assert malloc_fit.main(["--reps", "1", "--images", "256", "--model", "cdnn"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("CDNN fit, batch 256, 256 images, one thread, 1 pairs")
    assert "with tune_malloc():" in out and "without:" in out and "without / with" in out
