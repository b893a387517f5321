#!/usr/bin/env python3
"""Locked (atomic) instructions executed per message, from a callgrind profile.

Usage: locked_instructions.py CALLGRIND_FILE MESSAGES [TOP]

The profile must be recorded with `--dump-instr=yes`. Every instruction with a
`lock` prefix (or an `xchg` with memory, locked implicitly) is looked up in the
objects' disassembly (objdump) and its execution count summed. Instruction
counts weigh such an instruction like any other, but each costs some twenty
cycles: reference counts, channel and waker states, task transitions. Prints
the total per message and, with TOP > 0, the functions that execute the most.
"""
import collections
import re
import subprocess
import sys

NAMED = re.compile(r"(c?(?:ob|fn))=\((\d+)\)(?: (.*))?")
INSTR = re.compile(r"\s*([0-9a-f]+):\s+(\S+)(.*)")


def executed(path):
    """(object, address) -> count, and (object, address) -> function."""
    names = {"ob": {}, "fn": {}}
    counts, func = collections.Counter(), {}
    ob = fn = None
    addr = 0
    call_cost_next = False
    with open(path) as f:
        for line in f:
            m = NAMED.match(line)
            if m:
                kind, ident, name = m.group(1), m.group(2), m.group(3)
                table = names[kind.lstrip("c")]
                if name:
                    table[ident] = name
                if kind == "ob":
                    ob = table[ident]
                elif kind == "fn":
                    fn = table[ident]
                continue
            if line.startswith("calls="):
                # The next cost line is the call's inclusive cost, not this instruction's.
                call_cost_next = True
                continue
            if not line or line[0] not in "0123456789+-*":
                continue
            parts = line.split()
            pos = parts[0]
            if pos.startswith("0x"):
                addr = int(pos, 16)
            elif pos[0] == "+":
                addr += int(pos[1:])
            elif pos[0] == "-":
                addr -= int(pos[1:])
            if call_cost_next:
                call_cost_next = False
                continue
            if len(parts) >= 3:
                counts[(ob, addr)] += int(parts[-1])
                func[(ob, addr)] = fn
    return counts, func


def locked_addresses(obj):
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", obj], capture_output=True, text=True
    ).stdout
    found = set()
    for line in out.splitlines():
        m = INSTR.match(line)
        if m and (m.group(2) == "lock" or (m.group(2).startswith("xchg") and "(" in m.group(3))):
            found.add(int(m.group(1), 16))
    return found


def main():
    path, messages = sys.argv[1], int(sys.argv[2])
    top = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    counts, func = executed(path)
    locked = {}
    per_fn = collections.Counter()
    total = 0
    for (ob, addr), n in counts.items():
        if not ob or not ob.startswith("/"):
            continue
        if ob not in locked:
            locked[ob] = locked_addresses(ob)
        if addr in locked[ob]:
            total += n
            per_fn[func[(ob, addr)]] += n
    print(f"{total / messages:.1f}")
    for name, n in per_fn.most_common(top):
        print(f"{n / messages:9.1f} {name}")


if __name__ == "__main__":
    main()
