"""Source files as memories: one per function, method, class or type, found with tree-sitter.

A symbol's memory is its code as written (signature, docstring, body) under a header line that
says where it is: `click/termui.py:120-161 function progressbar`. Each memory keeps path,
language, symbol, kind and its first and last line in its metadata, so search results point into
the file. Code between symbols (imports, constants, a module docstring) and files in a language
without a grammar here are kept as windows of lines. A symbol longer than a window is split the
same way, each part under the symbol's header.

The grammars are the tree-sitter project's own wheels, one per language, prebuilt: nothing is
compiled or downloaded when a file is read.
"""

import importlib
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ..extras import installed
from ..records import Segment

log = logging.getLogger(__name__)
WINDOW_LINES = 60  # a memory holds at most this many lines of code
# suffix -> (language, grammar module, its function that returns the language)
GRAMMARS = {
    ".py": ("python", "tree_sitter_python", "language"),
    ".js": ("javascript", "tree_sitter_javascript", "language"),
    ".mjs": ("javascript", "tree_sitter_javascript", "language"),
    ".cjs": ("javascript", "tree_sitter_javascript", "language"),
    ".jsx": ("javascript", "tree_sitter_javascript", "language"),
    ".ts": ("typescript", "tree_sitter_typescript", "language_typescript"),
    ".tsx": ("tsx", "tree_sitter_typescript", "language_tsx"),
    ".go": ("go", "tree_sitter_go", "language"),
    ".rs": ("rust", "tree_sitter_rust", "language"),
    ".java": ("java", "tree_sitter_java", "language"),
    ".c": ("c", "tree_sitter_c", "language"),
    ".h": ("c", "tree_sitter_c", "language"),
    ".cc": ("cpp", "tree_sitter_cpp", "language"),
    ".cpp": ("cpp", "tree_sitter_cpp", "language"),
    ".cxx": ("cpp", "tree_sitter_cpp", "language"),
    ".hpp": ("cpp", "tree_sitter_cpp", "language"),
    ".hh": ("cpp", "tree_sitter_cpp", "language"),
}
# text files read as windows of lines: other languages, configuration, build files
LINE_FILES = {
    ".rb": "ruby",
    ".php": "php",
    ".cs": "csharp",
    ".kt": "kotlin",
    ".swift": "swift",
    ".scala": "scala",
    ".lua": "lua",
    ".sh": "shell",
    ".bash": "shell",
    ".zsh": "shell",
    ".sql": "sql",
    ".r": "r",
    ".css": "css",
    ".scss": "scss",
    ".vue": "vue",
    ".svelte": "svelte",
    ".toml": "toml",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".ini": "ini",
    ".cfg": "ini",
    ".xml": "xml",
    ".proto": "protobuf",
    ".graphql": "graphql",
    ".tf": "terraform",
    ".gradle": "gradle",
    ".cmake": "cmake",
    ".mk": "make",
}
LINE_NAMES = {"Makefile": "make", "Dockerfile": "dockerfile", "CMakeLists.txt": "cmake", "Justfile": "make"}

# node type -> kind, per language; a container's symbols are named under it (Class.method)
SYMBOLS = {
    "python": {"function_definition": "function", "class_definition": "class"},
    "javascript": {
        "function_declaration": "function",
        "generator_function_declaration": "function",
        "class_declaration": "class",
        "method_definition": "method",
        "variable_declarator": "function",
    },
    "typescript": {
        "function_declaration": "function",
        "generator_function_declaration": "function",
        "class_declaration": "class",
        "abstract_class_declaration": "class",
        "method_definition": "method",
        "variable_declarator": "function",
        "interface_declaration": "interface",
        "type_alias_declaration": "type",
        "enum_declaration": "enum",
    },
    "go": {"function_declaration": "function", "method_declaration": "method", "type_spec": "type"},
    "rust": {
        "function_item": "function",
        "struct_item": "struct",
        "enum_item": "enum",
        "trait_item": "trait",
        "impl_item": "impl",
        "mod_item": "module",
        "macro_definition": "macro",
    },
    "java": {
        "class_declaration": "class",
        "interface_declaration": "interface",
        "enum_declaration": "enum",
        "record_declaration": "record",
        "method_declaration": "method",
        "constructor_declaration": "constructor",
    },
    "c": {"function_definition": "function", "struct_specifier": "struct", "enum_specifier": "enum"},
    "cpp": {
        "function_definition": "function",
        "struct_specifier": "struct",
        "enum_specifier": "enum",
        "class_specifier": "class",
        "namespace_definition": "namespace",
    },
}
SYMBOLS["tsx"] = SYMBOLS["typescript"]
_FUNCTION_VALUES = {"arrow_function", "function_expression", "function", "generator_function"}
_CALLABLES = {"function", "method", "constructor", "macro"}
_TYPES = {"class", "struct", "impl", "trait", "interface", "enum", "record"}  # their functions are methods
_WRAPPERS = {"decorated_definition", "export_statement", "template_declaration"}  # kept with the symbol they wrap


@dataclass
class Symbol:
    name: str
    kind: str
    start: int  # first line, 0-based
    end: int  # last line, 0-based, inclusive
    children: list["Symbol"]


def language_of(path: str | Path) -> str | None:
    """The language a file is read as code in (None: not code)."""
    path = Path(path)
    if path.suffix.lower() in GRAMMARS:
        return GRAMMARS[path.suffix.lower()][0]
    return LINE_NAMES.get(path.name) or LINE_FILES.get(path.suffix.lower())


def code_segments(text: str, path: str) -> list[Segment]:
    """A source file's memories: its symbols (tree-sitter) and the lines between them, in file order."""
    lines = text.splitlines()
    language = language_of(path) or "text"
    suffix = Path(path).suffix.lower()
    parsed = suffix in GRAMMARS and _can_parse()
    symbols = _symbols(text, suffix) if parsed else []
    segments: list[Segment] = []
    covered = 0  # lines before this are in a memory already
    for symbol in symbols:
        segments += _windows(lines, covered, symbol.start - 1, path, language, "module", None)
        segments += _symbol_segments(lines, symbol, path, language)
        covered = symbol.end + 1
    segments += _windows(lines, covered, len(lines) - 1, path, language, "module" if parsed else "lines", None)
    return segments


def _symbol_segments(
    lines: list[str], symbol: Symbol, path: str, language: str, parent: Symbol | None = None, prefix: str = ""
) -> list[Segment]:
    """A symbol's memory; a container with members (a class with methods) is its own lines outside
    the members, then each member under the container's name."""
    name = prefix + symbol.name
    kind = "method" if symbol.kind == "function" and parent is not None and parent.kind in _TYPES else symbol.kind
    if not symbol.children:
        return _windows(lines, symbol.start, symbol.end, path, language, kind, name)
    segments, covered = [], symbol.start
    for child in symbol.children:
        segments += _windows(lines, covered, child.start - 1, path, language, kind, name)
        segments += _symbol_segments(lines, child, path, language, symbol, name + ".")
        covered = child.end + 1
    return segments + _windows(lines, covered, symbol.end, path, language, kind, name)


def _windows(
    lines: list[str], first: int, last: int, path: str, language: str, kind: str, symbol: str | None
) -> list[Segment]:
    """Lines first..last (0-based, inclusive) as memories of at most WINDOW_LINES lines; blank ones none."""
    segments = []
    for start in range(first, last + 1, WINDOW_LINES):
        end = min(last, start + WINDOW_LINES - 1)
        while start <= end and not lines[start].strip():
            start += 1
        while end >= start and not lines[end].strip():
            end -= 1
        if start > end:
            continue
        metadata = {"path": path, "language": language, "kind": kind, "start_line": start + 1, "end_line": end + 1}
        if symbol:
            metadata["symbol"] = symbol
        header = f"{path}:{start + 1}-{end + 1} {kind}" + (f" {symbol}" if symbol else "")
        body = "\n".join(lines[start : end + 1])
        segments.append(Segment(text=f"{header}\n{body}", metadata=metadata))
    return segments


@cache
def _can_parse() -> bool:
    """Whether tree-sitter is installed (the code extra); without it code is kept as line windows."""
    if installed("code"):
        return True
    log.warning("code files are kept as line windows, not symbols: pip install 'imprint[code]' for tree-sitter")
    return False


@cache
def _parser(suffix: str):
    from tree_sitter import Language, Parser

    _, module, function = GRAMMARS[suffix]
    return Parser(Language(getattr(importlib.import_module(module), function)()))


def _symbols(text: str, suffix: str) -> list[Symbol]:
    language = GRAMMARS[suffix][0]
    tree = _parser(suffix).parse(text.encode("utf-8"))
    return _find(tree.root_node, SYMBOLS[language])


def _find(node, kinds: dict[str, str]) -> list[Symbol]:
    """The symbols among a node's descendants, outermost first; members nest under their container."""
    found = []
    for child in node.named_children:
        kind = kinds.get(child.type)
        name = _name(child) if kind else None
        if kind == "function" and child.type == "variable_declarator" and not _is_function_value(child):
            kind = None
        if kind and name:
            start = child
            while start.parent is not None and start.parent.type in _WRAPPERS:  # decorators, `export`
                start = start.parent
            body = child.child_by_field_name("body")  # a function's inner functions stay in it
            members = _find(body, kinds) if body is not None and kind not in _CALLABLES else []
            found.append(Symbol(name, kind, start.start_point[0], child.end_point[0], members))
        else:
            found.extend(_find(child, kinds))
    return found


def _is_function_value(declarator) -> bool:
    value = declarator.child_by_field_name("value")
    return value is not None and value.type in _FUNCTION_VALUES


def _name(node) -> str | None:
    """A symbol's name: its `name` field (a Go method's under its receiver's type), for C/C++
    functions the identifier inside its declarator, for a Rust impl its type (and trait)."""
    if node.type == "impl_item":
        kind, trait = node.child_by_field_name("type"), node.child_by_field_name("trait")
        if kind is None:
            return None
        return f"{_text(trait)} for {_text(kind)}" if trait is not None else _text(kind)
    named = node.child_by_field_name("name")
    receiver = node.child_by_field_name("receiver") if node.type == "method_declaration" else None
    if named is not None and receiver is not None:  # Go: func (s *Server) Start() is Server.Start
        kind = next((n for n in _descendants(receiver) if n.type == "type_identifier"), None)
        return f"{_text(kind)}.{_text(named)}" if kind is not None else _text(named)
    if named is not None:
        return _text(named)
    declarator = node.child_by_field_name("declarator")
    while declarator is not None:
        if declarator.type in {
            "identifier",
            "field_identifier",
            "qualified_identifier",
            "destructor_name",
            "operator_name",
        }:
            return _text(declarator)
        declarator = declarator.child_by_field_name("declarator")
    return None


def _descendants(node):
    for child in node.named_children:
        yield child
        yield from _descendants(child)


def _text(node) -> str:
    return re.sub(r"\s+", " ", node.text.decode("utf-8", "replace"))
