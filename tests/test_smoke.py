from newsletter.model import Digest


def test_every_seed_parses(digests: list[Digest]) -> None:
    assert [d.date.isoformat() for d in digests] == [
        "2024-02-22",
        "2024-04-04",
        "2024-04-11",
        "2024-04-16",
        "2024-05-22",
    ]
