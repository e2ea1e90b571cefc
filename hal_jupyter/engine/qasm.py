"""OpenQASM 2 and 3 parsing that is safe to run on a server.

- Includes never touch the server's files: OpenQASM 2 resolves only the
  built-in ``qelib1.inc`` and OpenQASM 3 only ``stdgates.inc``.
- Errors become :class:`InvalidCircuit` with ``line`` and ``column`` details.
- Messages never echo file contents.
- Sizes are checked before any parser runs: Qiskit's parsers expand registers
  bit by bit (``measure q -> c`` on a billion-bit register allocates tens of
  GB) and its Rust lexer panics on integers above 2**64.
"""

from __future__ import annotations

import collections
import functools
import heapq
import re
from dataclasses import dataclass
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from .errors import InvalidCircuit

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

_VERSION = re.compile(r"^\s*(?://[^\n]*\n|/\*.*?\*/|\s)*OPENQASM\s+([0-9]+)(?:\.[0-9]+)?\s*;", re.S)
_INCLUDE = re.compile(r'^[ \t]*include\s+"([^"]*)"\s*;', re.M)
_ALLOWED_INCLUDES = {2: {"qelib1.inc"}, 3: {"stdgates.inc"}}
_LOCATION = re.compile(r"^<input>:(\d+),(\d+):\s*(.*)$", re.S)
_LOCATION3 = re.compile(r"^(\d+),(\d+):\s*(.*)$", re.S)
#: more qubits and bits than any device or simulator has; a larger declaration is refused before parsing
MAX_DECLARED_BITS = 10_000
#: deeper nesting of brackets is refused before parsing (the parsers recurse per level)
MAX_NESTING = 64
#: parsed OpenQASM 3 circuits kept by their text: the PUBs of a Qiskit call, or a
#: sweep sent again and again, share one circuit, and the reference importer (the
#: only one that reads ``input`` parameters) takes ~20 ms a parse
PARSED_CACHE_SIZE = 64
PARSED_CACHE_MAX_CHARS = 100_000
_BRACKETS = re.compile(r"[()\[\]{}]")
_NOT_BRACKETS = re.compile(r"[^()\[\]{}]+")
_PAIRS = re.compile(r"\(\)|\[\]|\{\}")
# These start with a literal, which the regex engine finds at C speed; the word
# boundary before it is checked on the (few) matches (:func:`_words`).
_REG = re.compile(r"reg\s+\w+\s*\[\s*(\d+)\s*\]")
_BIT = re.compile(r"bit\s*\[\s*(\d+)\s*\]")
_MEASURE = re.compile(r"measure\b")
_LONG_DIGITS = re.compile(r"\d{19}")
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.S)
_HUGE_INTEGER = re.compile(r"(?<![\w.])\d{19,}(?![\w.])")


def qasm_version(source: str) -> int:
    """The major OpenQASM version the source declares (2 if it declares none)."""
    match = _VERSION.match(source)
    return int(match.group(1)) if match else 2


@dataclass
class CircuitSummary:
    """What submission-time checks need to know of a valid circuit.

    ``circuit`` is the parsed ``QuantumCircuit`` when building it was needed
    (OpenQASM 3); for OpenQASM 2 only Qiskit's Rust parser runs at submission,
    which validates everything, and the circuit is built later, by the provider.
    """

    num_qubits: int
    num_clbits: int
    measures: bool
    circuit: QuantumCircuit | None = None


def inspect_circuit(source: str) -> CircuitSummary:
    """Validate OpenQASM 2 or 3 text and summarise it, or raise :class:`InvalidCircuit`."""
    _check_sizes(source)
    version = qasm_version(source)
    if version == 2:
        summary = _summarise_qasm2(source)
        if summary is not None:
            return summary
    circuit = parse_circuit(source)
    measures = any(i.operation.name == "measure" for i in circuit.data)
    return CircuitSummary(circuit.num_qubits, circuit.num_clbits, measures, circuit)


def _summarise_qasm2(source: str) -> CircuitSummary | None:
    """Run only Qiskit's Rust OpenQASM 2 parser (it does all of ``qasm2.loads``'
    validation, ~10x faster than building the circuit). None if that internal
    API is not there, so the caller falls back to the full parse."""
    try:
        from qiskit import qasm2
        from qiskit._accelerate import qasm2 as rust
    except ImportError:
        return None
    _check_includes(source, 2)
    try:
        collections.deque(rust.bytecode_from_string(source, [], _legacy_instructions(), (), False), maxlen=0)
    except qasm2.QASM2ParseError as exc:
        raise _located(str(exc), _LOCATION) from None
    # The parser accepted it: its declarations and statements are well formed, so they are
    # read off the text (without comments) at C speed rather than op by op in Python.
    text = _without_comments(source)
    qubits = clbits = 0
    for match in _words(_REG, "reg", text, ("qreg", "creg")):
        if text.startswith("q", match.start() - 1):
            qubits += int(match.group(1))
        else:
            clbits += int(match.group(1))
    return CircuitSummary(qubits, clbits, next(_words(_MEASURE, "measure", text, ("measure",)), None) is not None)


@functools.cache
def _legacy_instructions() -> list[Any]:
    """``qasm2.LEGACY_CUSTOM_INSTRUCTIONS`` as the Rust parser takes them (built once: every submission uses them)."""
    from qiskit import qasm2
    from qiskit._accelerate import qasm2 as rust

    return [rust.CustomInstruction(x.name, x.num_params, x.num_qubits, x.builtin) for x in qasm2.LEGACY_CUSTOM_INSTRUCTIONS]


def parse_circuit(source: str) -> QuantumCircuit:
    """Parse OpenQASM 2 or 3 text into a ``QuantumCircuit`` or raise :class:`InvalidCircuit`."""
    _check_sizes(source)
    version = qasm_version(source)
    if version not in (2, 3):
        raise InvalidCircuit(f"unsupported OpenQASM version {version}; use OpenQASM 2 or 3")
    _check_includes(source, version)
    return _parse_qasm2(source) if version == 2 else _parse_qasm3(source)


def _check_sizes(source: str) -> None:
    """Refuse integer literals of 19 digits or more, brackets nested deeper than
    :data:`MAX_NESTING` and register declarations that add up to more than
    :data:`MAX_DECLARED_BITS`, before any parser runs."""
    text = _without_comments(source)
    huge = _HUGE_INTEGER.search(text) if _LONG_DIGITS.search(text) else None
    if huge is not None:
        raise _at(text, huge.start(), f"the number {huge.group()[:12]}... is too large")
    if _nesting_bound(text) > MAX_NESTING:  # (rare: then bracket by bracket, to say where)
        depth = 0
        for match in _BRACKETS.finditer(text):
            depth += 1 if match.group() in "([{" else -1
            if depth > MAX_NESTING:
                raise _at(text, match.start(), f"brackets are nested more than {MAX_NESTING} levels deep")
    total = 0
    for match in _declarations(text):
        total += int(match.group(1))
        if total > MAX_DECLARED_BITS:
            raise _at(text, match.start(), f"the circuit declares more than {MAX_DECLARED_BITS} qubits and bits")


def _words(pattern: re.Pattern[str], literal: str, text: str, words: tuple[str, ...]) -> Iterator[re.Match[str]]:
    """Matches of ``pattern`` (which starts with ``literal``) where ``literal`` ends one of
    ``words`` and that word stands alone: what ``\\b(?:word|...)`` would find, without
    the regex engine trying a word boundary at every character."""
    for match in pattern.finditer(text):
        for word in words:
            begin = match.start() - (len(word) - len(literal))
            if begin >= 0 and text.startswith(word, begin) and (begin == 0 or not _is_word_char(text[begin - 1])):
                yield match
                break


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _declarations(text: str) -> Iterator[re.Match[str]]:
    """Register declarations: ``qreg``/``creg`` (OpenQASM 2), ``qubit[n]``/``bit[n]`` (3)."""
    yield from heapq.merge(_words(_REG, "reg", text, ("qreg", "creg")), _words(_BIT, "bit", text, ("qubit", "bit")), key=lambda m: m.start())


def _without_comments(source: str) -> str:
    """The source with comments blanked out (lines and columns kept)."""
    if "//" not in source and "/*" not in source:
        return source
    return _COMMENTS.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), source)


def _nesting_bound(text: str) -> int:
    """An upper bound of the brackets' nesting depth, at C speed: innermost pairs
    (``()``, ``[]``, ``{}`` with nothing between) add one level at most; what is left
    is counted bracket by bracket (nothing, for a circuit's ``q[0]`` and ``rz(0.5)``)."""
    brackets = _NOT_BRACKETS.sub("", text)
    rest = _PAIRS.sub("", brackets)
    depth = deepest = 0
    for ch in rest:
        depth += 1 if ch in "([{" else -1
        deepest = max(deepest, depth)
    return deepest + (1 if len(rest) < len(brackets) else 0)


def _at(source: str, offset: int, message: str) -> InvalidCircuit:
    line = source.count("\n", 0, offset) + 1
    column = offset - (source.rfind("\n", 0, offset) + 1)
    return InvalidCircuit(f"invalid circuit at line {line}, column {column}: {message}", details=[{"line": line, "column": column, "message": message}])


def _check_includes(source: str, version: int) -> None:
    allowed = _ALLOWED_INCLUDES[version]
    for match in _INCLUDE.finditer(source):
        if match.group(1) not in allowed:
            line = source.count("\n", 0, match.start()) + 1
            message = f"only the standard include ({', '.join(sorted(allowed))}) is allowed"
            raise InvalidCircuit(
                f"invalid circuit at line {line}: {message}",
                details=[{"line": line, "column": 0, "message": message}],
            )


def _parse_qasm2(source: str) -> QuantumCircuit:
    from qiskit import qasm2

    try:
        return qasm2.loads(source, include_path=(), custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS)
    except qasm2.QASM2ParseError as exc:
        raise _located(str(exc), _LOCATION) from None


def _parse_qasm3(source: str) -> QuantumCircuit:
    """The circuit of OpenQASM 3 text: a copy of the one parsed before from the same
    text (one of the last :data:`PARSED_CACHE_SIZE`; errors are not kept), else parsed now."""
    if len(source) > PARSED_CACHE_MAX_CHARS:
        return _import_qasm3(source)
    return _import_qasm3_cached(source).copy()


def _import_qasm3(source: str) -> QuantumCircuit:
    from openqasm3.parser import QASM3ParsingError
    from qiskit import qasm3

    native = _parse_qasm3_natively(source)
    if native is not None:
        return native
    try:
        return qasm3.loads(source)
    except (OverflowError, RecursionError) as exc:
        raise InvalidCircuit(f"invalid OpenQASM 3: the circuit is too large or nested too deeply ({type(exc).__name__})") from None
    except QASM3ParsingError as exc:
        if str(exc):
            raise InvalidCircuit(f"invalid OpenQASM 3: {exc}") from None
        raise _qasm3_syntax_error(source) from None
    except qasm3.QASM3ImporterError as exc:
        error = _located(str(exc), _LOCATION3)
        error.message = error.message.replace("invalid circuit", "unsupported or invalid OpenQASM 3", 1)
        raise error from None


_import_qasm3_cached = functools.lru_cache(maxsize=PARSED_CACHE_SIZE)(_import_qasm3)


def _parse_qasm3_natively(source: str) -> QuantumCircuit | None:
    """Qiskit's Rust OpenQASM 3 importer (``qasm3.loads_experimental``): ~25x faster than
    the ANTLR one (1 ms against 26 ms for a 10-qubit, 86-gate circuit), for what it
    supports. None when it does not take the program (a feature it lacks, or an error):
    then the reference importer parses it and words the error."""
    import warnings

    from qiskit import qasm3

    loads = getattr(qasm3, "loads_experimental", None)
    if loads is None:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return loads(source)  # type: ignore[no-any-return]
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException:  # noqa: BLE001 - includes pyo3's PanicException: the reference importer decides
        return None


def _located(text: str, pattern: re.Pattern[str]) -> InvalidCircuit:
    text = text.strip().strip("'\"")
    match = pattern.match(text)
    if not match:
        return InvalidCircuit(f"invalid circuit: {text}")
    line, column, message = int(match.group(1)), int(match.group(2)), match.group(3).strip()
    return InvalidCircuit(
        f"invalid circuit at line {line}, column {column}: {message}",
        details=[{"line": line, "column": column, "message": message}],
    )


def _qasm3_syntax_error(source: str) -> InvalidCircuit:
    """Re-run ANTLR with a listener that records where the syntax broke.

    The reference parser raises with an empty message and prints the reason to
    stderr; this collects it instead.
    """
    from antlr4 import CommonTokenStream, InputStream
    from antlr4.error.ErrorListener import ErrorListener
    from openqasm3._antlr.qasm3Lexer import qasm3Lexer
    from openqasm3._antlr.qasm3Parser import qasm3Parser

    found: list[dict[str, Any]] = []

    class Collect(ErrorListener):  # type: ignore[misc]
        def syntaxError(self, recognizer: Any, symbol: Any, line: int, column: int, msg: str, e: Any) -> None:
            if len(found) < 10:
                found.append({"line": line, "column": column, "message": msg})

    lexer = qasm3Lexer(InputStream(source))
    lexer.removeErrorListeners()
    lexer.addErrorListener(Collect())
    parser = qasm3Parser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(Collect())
    parser.program()
    if not found:
        return InvalidCircuit("invalid OpenQASM 3 syntax")
    first = found[0]
    return InvalidCircuit(
        f"invalid circuit at line {first['line']}, column {first['column']}: {first['message']}",
        details=found,
    )
