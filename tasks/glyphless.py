"""The text layer's font: a synthesized glyphless TrueType font (the Tesseract / OCRmyPDF idea).

Every BMP character maps to one empty glyph, so any script round-trips through the ToUnicode
map with no system font. It is a Type0 font with Identity-H encoding: a character code is its
UTF-16 code unit, one CIDToGIDMap sends all to the glyph and one ToUnicode range reads them
back, so the font costs about a kilobyte per PDF whatever the text. ASCENT + DESCENT is one
em, so a word drawn at a box's height in points fills that box.
"""

from __future__ import annotations

import functools
import struct

import pymupdf

NAME = "GlyphLessFont"
ASCENT, DESCENT, ADVANCE = 0.8, 0.2, 0.5  # em fractions; ascent + descent == 1 em
_TO_UNICODE = b"""/CIDInit /ProcSet findresource begin
12 dict begin
begincmap
/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def
/CMapName /Adobe-Identity-UCS def
/CMapType 2 def
1 begincodespacerange
<0000> <FFFF>
endcodespacerange
1 beginbfrange
<0000> <FFFF> <0000>
endbfrange
endcmap
CMapName currentdict /CMap defineresource pop
end
end
"""


def add_font(doc: pymupdf.Document) -> int:
    """Add the glyphless font to `doc`; its xref, for a page's /Font resources."""
    font_file = _stream(doc, _glyphless_ttf(), f"<</Length1 {len(_glyphless_ttf())}>>")
    descriptor = _object(
        doc,
        f"<</Type/FontDescriptor/FontName/{NAME}/Flags 5/FontBBox[0 {-_milli(DESCENT)} "
        f"{_milli(ADVANCE)} {_milli(ASCENT)}]/ItalicAngle 0/Ascent {_milli(ASCENT)}"
        f"/Descent {-_milli(DESCENT)}/CapHeight {_milli(ASCENT)}/StemV 80"
        f"/FontFile2 {font_file} 0 R>>",
    )
    to_gid = _stream(doc, b"\x00\x01" * 0x10000)  # every code to glyph 1
    cid_font = _object(
        doc,
        f"<</Type/Font/Subtype/CIDFontType2/BaseFont/{NAME}/CIDSystemInfo<</Registry(Adobe)"
        f"/Ordering(Identity)/Supplement 0>>/FontDescriptor {descriptor} 0 R"
        f"/DW {_milli(ADVANCE)}/CIDToGIDMap {to_gid} 0 R>>",
    )
    to_unicode = _stream(doc, _TO_UNICODE)
    return _object(
        doc,
        f"<</Type/Font/Subtype/Type0/BaseFont/{NAME}/Encoding/Identity-H"
        f"/DescendantFonts[{cid_font} 0 R]/ToUnicode {to_unicode} 0 R>>",
    )


def encode(text: str) -> str:
    """`text` as the font's character codes, a PDF hex string (BMP characters only)."""
    return "<" + text.encode("utf-16-be").hex().upper() + ">"


def _milli(em: float) -> int:
    return round(em * 1000)


def _object(doc: pymupdf.Document, source: str) -> int:
    xref = doc.get_new_xref()
    doc.update_object(xref, source)
    return xref


def _stream(doc: pymupdf.Document, data: bytes, source: str = "<<>>") -> int:
    xref = _object(doc, source)
    doc.update_stream(xref, data)
    return xref


@functools.cache
def _glyphless_ttf() -> bytes:
    """A minimal TrueType font: U+0020..U+FFFD all map to one empty glyph, 0.5 em wide."""
    em, asc, desc, adv = 1000, _milli(ASCENT), -_milli(DESCENT), _milli(ADVANCE)
    groups = ((0x20, 0xD7FF), (0xE000, 0xFFFD))
    cmap = struct.pack(">HHIII", 13, 0, 16 + 12 * len(groups), 0, len(groups)) + b"".join(
        struct.pack(">III", first, last, 1) for first, last in groups
    )
    tables = {
        b"cmap": struct.pack(">HHHHI", 0, 1, 3, 10, 12) + cmap,
        b"glyf": b"",
        b"head": struct.pack(
            ">IIIIHHqqhhhhHHhhh",
            0x10000,
            0x10000,
            0,
            0x5F0F3CF5,
            0xB,
            em,
            0,
            0,
            0,
            desc,
            adv,
            asc,
            0,
            8,
            2,
            0,
            0,
        ),
        b"hhea": struct.pack(
            ">IhhhH6h4hhH", 0x10000, asc, desc, 0, adv, 0, 0, adv, 1, 0, 0, 0, 0, 0, 0, 0, 2
        ),
        b"hmtx": struct.pack(">HhHh", adv, 0, adv, 0),
        b"loca": struct.pack(">3H", 0, 0, 0),
        b"maxp": struct.pack(">IH13H", 0x10000, 2, *[0] * 13),
        b"name": _name_table(NAME),
        b"post": struct.pack(">IihhIIIII", 0x30000, 0, -100, 50, 0, 0, 0, 0, 0),
    }
    return _sfnt(tables)


def _name_table(name: str) -> bytes:
    """A 'name' table (Windows, Unicode, US English) with family, style, full and PS names."""
    values = {1: name, 2: "Regular", 3: name, 4: name, 6: name}
    records, pool = b"", b""
    for name_id, value in values.items():
        raw = value.encode("utf-16-be")
        records += struct.pack(">6H", 3, 1, 0x409, name_id, len(raw), len(pool))
        pool += raw
    return struct.pack(">3H", 0, len(values), 6 + len(records)) + records + pool


def _sfnt(tables: dict[bytes, bytes]) -> bytes:
    """Assemble tables into a TrueType file (sorted directory, 4-byte aligned, checksums)."""
    count = len(tables)
    shift = count.bit_length() - 1
    header = struct.pack(">IHHHH", 0x10000, count, 16 << shift, shift, 16 * count - (16 << shift))
    directory, body = b"", b""
    for tag, data in sorted(tables.items()):
        padded = data + b"\0" * (-len(data) % 4)
        checksum = sum(struct.unpack(f">{len(padded) // 4}I", padded)) & 0xFFFFFFFF
        directory += struct.pack(">4sIII", tag, checksum, 12 + 16 * count + len(body), len(data))
        body += padded
    return header + directory + body
