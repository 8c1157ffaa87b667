"""A large tree is listed once: the listing is kept in the user's cache until a folder changes."""

import os
from pathlib import Path

from plateocr.data.file_index import cache_dir, cached_listing, list_files


def make_tree(root: Path) -> Path:
    for folder, names in (("a", ["1.jpg", "2.png"]), ("b/c", ["3.jpg", "notes.txt"])):
        (root / folder).mkdir(parents=True)
        for name in names:
            (root / folder / name).write_bytes(b"")
    (root / ".hidden.jpg").write_bytes(b"")
    return root


def names(paths) -> list[str]:
    return [p.name for p in paths]


def test_the_listing_is_kept_and_used_until_a_folder_changes(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    tree = make_tree(tmp_path / "tree")
    images, others = cached_listing(tree, min_files=0)
    assert names(images) == ["1.jpg", "2.png", "3.jpg"] and names(others) == ["notes.txt"]
    assert images[0] == tree / "a" / "1.jpg"  # under the folder as given, as a fresh walk gives
    assert len(list(cache_dir().glob("file-index-*.json"))) == 1
    # A file added while the folder keeps its mtime is not seen: the listing came from the cache.
    stat = os.stat(tree / "a")
    (tree / "a" / "4.jpg").write_bytes(b"")
    os.utime(tree / "a", ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert names(cached_listing(tree, min_files=0)[0]) == ["1.jpg", "2.png", "3.jpg"]
    # Once the folder's mtime moves (as adding or removing a file does), the tree is walked again.
    os.utime(tree / "a", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert names(cached_listing(tree, min_files=0)[0]) == ["1.jpg", "2.png", "4.jpg", "3.jpg"]


def test_small_trees_and_unwritable_caches_are_walked_each_time(tmp_path, monkeypatch):
    tree = make_tree(tmp_path / "tree")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert cached_listing(tree)[0] == list_files(tree)[0]  # fewer files than worth caching
    assert not (tmp_path / "cache").exists()
    (tmp_path / "a_file").write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "a_file"))
    assert names(cached_listing(tree, min_files=0)[0]) == ["1.jpg", "2.png", "3.jpg"]
