#!/usr/bin/env python3
"""Bytes per entry of the Python structures that docs/internals.md sets
beside latchwork's: an OrderedDict entry (the usual LRU cache), a plain dict
entry, and an object with __slots__ against a dict-backed object.

Measured with tracemalloc over N inserts (stdlib only): the traced bytes
held after the inserts, minus before, divided by N. Keys and values are
ints >= 2**30 (outside the small-int cache), so each entry owns its key and
value objects, as a Rust u64 -> u64 entry owns its 16 bytes.

Run: python3 scripts/python_sizes.py
"""
import sys
import tracemalloc
from collections import OrderedDict

N = 100_000
BASE = 1 << 40


def per_entry(build):
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    held = build()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return (after - before) / N


def ordered_dict():
    d = OrderedDict()
    for i in range(N):
        d[BASE + i] = BASE + i + 1
    return d


def plain_dict():
    d = {}
    for i in range(N):
        d[BASE + i] = BASE + i + 1
    return d


class Slotted:
    __slots__ = ("key", "value")

    def __init__(self, key, value):
        self.key = key
        self.value = value


class Plain:
    def __init__(self, key, value):
        self.key = key
        self.value = value


def objects(cls):
    def build():
        return [cls(BASE + i, BASE + i + 1) for i in range(N)]

    return build


def main():
    print(f"python {sys.version.split()[0]}, N = {N}, int keys and values >= 2**40")
    print("| structure | bytes/entry (incl. key and value objects) |")
    print("|---|---:|")
    for name, build in [
        ("OrderedDict[int, int] entry", ordered_dict),
        ("dict[int, int] entry", plain_dict),
        ("object with __slots__ (2 fields), incl. list slot", objects(Slotted)),
        ("dict-backed object (2 fields), incl. list slot", objects(Plain)),
    ]:
        print(f"| {name} | {per_entry(build):.1f} |")


if __name__ == "__main__":
    main()
