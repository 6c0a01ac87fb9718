#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compiler warnings on lines a patch series adds.

    added-line-warnings.py PRISTINE_TREE PATCHED_TREE SERIES_DIR LOG...

For every file the series in SERIES_DIR touches, diffs PRISTINE_TREE against
PATCHED_TREE (diff -U0) to find the lines the whole series added, then prints
each "file:line[:col]: warning: ..." of the LOGs that sits on one of them.
Nothing printed means no warning is ours: the others are the pristine
kernel's own.
"""
import os
import re
import subprocess
import sys

HUNK = re.compile(r'^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@')
WARNING = re.compile(r'^(\S+?):(\d+):(?:\d+:)? warning: ')
TOUCHED = re.compile(r'^\+\+\+ b/(\S+)')


def touched_files(series_dir):
    files = set()
    for name in os.listdir(series_dir):
        if name.endswith('.patch'):
            with open(os.path.join(series_dir, name)) as f:
                for line in f:
                    m = TOUCHED.match(line)
                    if m:
                        files.add(m.group(1))
    return files


def added_lines(pristine, patched, path):
    old = os.path.join(pristine, path)
    new = os.path.join(patched, path)
    out = subprocess.run(['diff', '-U0', old if os.path.exists(old) else '/dev/null', new],
                         capture_output=True, text=True, errors='replace').stdout
    lines = set()
    for line in out.splitlines():
        m = HUNK.match(line)
        if m:
            start, count = int(m.group(1)), int(m.group(2) or 1)
            lines.update(range(start, start + count))
    return lines


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    pristine, patched, series = sys.argv[1:4]
    added = {path: added_lines(pristine, patched, path) for path in touched_files(series)}
    seen = set()
    for log in sys.argv[4:]:
        with open(log, errors='replace') as f:
            for line in f:
                m = WARNING.match(line)
                if not m:
                    continue
                where, n = m.group(1), int(m.group(2))
                for path, lines in added.items():
                    if (where == path or where.endswith('/' + path)) and n in lines:
                        text = line.rstrip('\n')
                        if text not in seen:
                            seen.add(text)
                            print(text)
                        break


if __name__ == '__main__':
    main()
