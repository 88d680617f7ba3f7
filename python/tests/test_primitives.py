"""Known-answer tests of the building blocks: XXH64, HChaCha20, XChaCha20-Poly1305,
HKDF and Argon2id slot keys (conformance/worked-example.md), node and chain layouts
(FORMAT.md §10.3.6, §10.4.6)."""

from __future__ import annotations

import os
import struct
import unittest

from helpers import CONFORMANCE  # noqa: F401  (sets sys.path)
from scdb import aead, chain, header, node
from scdb.xxh64 import xxh64


class TestXXH64(unittest.TestCase):
    def test_known_values(self):
        self.assertEqual(xxh64(b""), 0xEF46DB3751D8E999)
        self.assertEqual(xxh64(b"a"), 0xD24EC4F1A98C6E5B)
        self.assertEqual(xxh64(b"abc"), 0x44BC2CF5AD770999)

    def test_worked_example_checksum(self):
        with open(os.path.join(CONFORMANCE, "vectors", "worked-example.scdb"), "rb") as f:
            d = f.read(1024)
        self.assertEqual(xxh64(d[:504]), 0x2298E451392B3C53)
        self.assertEqual(d[504:512], bytes.fromhex("533c2b3951e49822"))


class TestXChaCha(unittest.TestCase):
    def test_hchacha20_draft_vector(self):  # draft-irtf-cfrg-xchacha-03 §2.2.1
        sub = aead.hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927"))
        self.assertEqual(sub.hex(), "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc")

    def test_xchacha20poly1305_draft_vector(self):  # §A.3.1
        pt = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
              b"the future, sunscreen would be it.")
        key, nonce = bytes(range(0x80, 0xA0)), bytes(range(0x40, 0x58))
        ad = bytes.fromhex("50515253c0c1c2c3c4c5c6c7")
        ct = aead.seal(key, nonce, pt, ad)
        self.assertTrue(ct.hex().startswith("bd6d179d3e83d43b9576579493c0e939572a1700252bfacc"))
        self.assertEqual(ct[-16:].hex(), "c0875924c1c7987947deafd8780acf49")
        self.assertEqual(aead.open_(key, nonce, ct, ad), pt)
        self.assertIsNone(aead.open_(key, nonce, ct[:-1] + bytes([ct[-1] ^ 1]), ad))


class TestSlots(unittest.TestCase):
    def test_worked_example_raw_key(self):
        with open(os.path.join(CONFORMANCE, "vectors", "worked-example.scdb"), "rb") as f:
            h, idx = header.pick_header(f.read(1024))
        self.assertEqual(idx, 0)
        salt = h.slots[0][16:32]
        self.assertEqual(aead.kek_from_raw_key(bytes(range(32)), salt).hex(),
                         "8f714c5837ed948306734512e697010df244ea1d469711ddbde7c1a5d350cee1")
        self.assertEqual(header.unlock(h, bytes(range(32)), None).hex(),
                         "d0cdaae063721b7ff5eb102ca294d3a199d553a2c3934b4c2187913a3327e2bc")

    def test_worked_example_argon2id(self):
        kek = aead.kek_from_passphrase(b"correct horse battery staple",
                                       bytes.fromhex("047df19dc7779ad81e1cc85dec334a5f"), 1, 64, 1)
        self.assertEqual(kek.hex(), "ca2e641bbc4601fb76a2745dc7603b1b725910c33bba937dd4095a4be6fb5440")

    def test_new_slot_round_trip(self):
        dk, kid = os.urandom(32), os.urandom(16)
        s = header.new_slot(dk, kid, None, b"pw", (1, 64, 1))
        self.assertIsNone(header.slot_problem(s))
        h = header.Header(12, os.urandom(16), 1, kid, [s] + [bytes(104)] * 3)
        h2, _ = header.pick_header(h.encode() + h.encode())
        self.assertEqual(header.unlock(h2, None, b"pw"), dk)
        with self.assertRaises(header.ErrWrongKey):
            header.unlock(h2, None, b"other")
        with self.assertRaises(header.ErrKDFLimit):
            header.unlock(h2, None, b"pw", max_mem=32)


class TestNodeLayout(unittest.TestCase):
    def test_limits_table(self):
        table = {1024: (301, 484, 183), 2048: (642, 996, 354), 4096: (1325, 2020, 695),
                 8192: (2690, 4068, 1378), 16384: (5421, 8164, 2743), 32768: (10882, 16356, 5474),
                 65536: (21805, 32740, 10935)}
        for P, (mk, mv0, mvk) in table.items():
            S = P - 40
            self.assertEqual(node.max_key(S), mk)
            self.assertEqual(node.max_value(S, 0), mv0)
            self.assertEqual(node.max_value(S, mk), mvk)
            self.assertEqual(node.max_value(S, mk + 1), -1)

    def test_worked_example_leaf_and_branch(self):
        b = node.Node(True, [b"a", b"b"], [b"x", b"yz"]).encode(984)
        self.assertEqual(b[:8].hex(), "04000200cb03d103")
        self.assertEqual(b[0x3CB:].hex(), "0100010061780100020062797a")
        self.assertFalse(any(b[8:0x3CB]))
        br = node.Node(False, [b"m"], kids=[(3, 1), (4, 1)]).encode(984)
        self.assertEqual(br[:22].hex(), "03000100" + "0300000000000000" + "0100000000000000" + "c503")
        self.assertEqual(br[0x3C5:].hex(), "0400000000000000" + "0100000000000000" + "01006d")
        raw = node.RawNode((9, 1), br)
        self.assertEqual(raw.search(b"l"), (0, False))
        self.assertEqual(raw.search(b"m"), (1, False))
        self.assertEqual(raw.child(1), (4, 1))


class _MemTx:
    """A chain writer's target that keeps pages in memory and hands out 12, 13, ..."""

    def __init__(self, S, first=12, gen=7):
        self.payload_size, self.gen, self.next, self.pages = S, gen, first, {}

    def alloc_run(self, n):
        f = self.next
        self.next += n
        return f

    def release_unwritten(self, first, n):
        pass

    def free_written(self, runs):
        pass

    def write_page(self, pg, payload):
        self.pages[pg] = payload

    def read_pages(self, first, gen, n, holder=None):
        return [self.pages[first + i] for i in range(n)]


class TestChainLayout(unittest.TestCase):
    def test_worked_example_two_page_chain(self):  # FORMAT.md §10.4.6
        value = bytes(i % 256 for i in range(1000))
        tx = _MemTx(984)
        cell = chain.ChainWriter(tx, 1000).write_bytes(value)
        self.assertEqual(cell.hex(), "01" + "e803000000000000" + "0c00000000000000" + "0700000000000000")
        p12, p13 = tx.pages[12], tx.pages[13]
        self.assertEqual(p12[:24].hex(), "0501c003" + "02000000" + "0c00000000000000" + "0000000000000000")
        self.assertEqual(p12[24:], value[:960])
        self.assertEqual(p13[:24].hex(), "05022800" + "01000000" + "0c00000000000000" + "0000000000000000")
        self.assertEqual(p13[24:64], value[960:])
        self.assertFalse(any(p13[64:]))
        self.assertEqual(chain.read_value(tx, cell), value)
        self.assertEqual(chain.chain_runs(tx, chain.decode_cell(cell)[1]), [(12, 2)])

    def test_streamed_runs(self):
        import io
        tx = _MemTx(984, first=3)
        data = os.urandom(960 * 40 + 5)  # 41 pages: runs 16 + 32 (25 used)
        f = io.BytesIO(data)
        cell, size = chain.ChainWriter(tx, None).write_stream(f.read(321), f.read)
        self.assertEqual(size, len(data))
        c = chain.decode_cell(cell)[1]
        self.assertEqual(chain.chain_runs(tx, c), [(3, 16), (19, 25)])
        self.assertEqual(chain.read_value(tx, cell), data)

    def test_bad_cells(self):
        for cell in (b"", b"\x02", b"\x01" + bytes(23), struct.pack("<BQQQ", 1, 0, 5, 1),
                     struct.pack("<BQQQ", 1, (1 << 40) + 1, 5, 1), struct.pack("<BQQQ", 1, 5, 2, 1)):
            with self.assertRaises(chain.ErrCorrupt):
                chain.decode_cell(cell)


if __name__ == "__main__":
    unittest.main()
