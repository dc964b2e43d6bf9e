// Command interop checks huzhu's C2SP files against Go's reference implementation,
// golang.org/x/mod/sumdb/note and golang.org/x/mod/sumdb/tlog (Debian's golang-golang-x-mod-dev).
//
// Written for huzhu's tests (tests/interop/test_go_interop.py drives it); it prints JSON on
// stdout and exits 1 with a message on stderr when a check fails.
//
//	interop note-verify  -vkey V -note FILE            note.NewVerifier + note.Open
//	interop note-sign    -skey S -text FILE            note.NewSigner + note.Sign (raw note on stdout)
//	interop note-keygen  -name N                       note.GenerateKey
//	interop cosig-verify -vkey V -note FILE            note.Open with a tlog-cosignature/v1 verifier
//	interop tiles-check  -dir D [-checkpoint F] -vkey V -indexes I -old-sizes M
//	                     tlog.TileHashReader over D's tiles: TreeHash, ProveRecord/CheckRecord,
//	                     ProveTree/CheckTree, and every tile rebuilt from the entries with
//	                     tlog.StoredHashes + tlog.NewTiles + tlog.ReadTileData, compared byte for byte
//	interop tiles-make   -dir D -skey S -entries FILE -sizes A,B,... -indexes I -old-sizes M
//	                     a tiled log written by Go (tiles from tlog.NewTiles/ReadTileData, checkpoint
//	                     signed with note.Sign) published at each size, with Go's proofs
//
// The tile paths of tlog-tiles are Go's Tile.Path() without the height element: Go writes
// tile/8/L/N, C2SP tile/L/N. Entry bundles (tile/entries/N) are C2SP-only and built here.
package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const height = 8

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: interop COMMAND [flags]"))
	}
	flags := flag.NewFlagSet(os.Args[1], flag.ExitOnError)
	vkey := flags.String("vkey", "", "verifier key")
	skey := flags.String("skey", "", "signer key")
	name := flags.String("name", "", "key name")
	notePath := flags.String("note", "", "signed note file")
	textPath := flags.String("text", "", "note text file")
	dir := flags.String("dir", "", "tile directory")
	entriesPath := flags.String("entries", "", "file of entries, one per line")
	sizes := flags.String("sizes", "", "comma-separated tree sizes to publish")
	indexes := flags.String("indexes", "", "comma-separated leaf indexes to prove")
	oldSizes := flags.String("old-sizes", "", "comma-separated old tree sizes to prove consistency from")
	checkpointPath := flags.String("checkpoint", "", "checkpoint file (default: DIR/checkpoint)")
	flags.Parse(os.Args[2:])

	var out interface{}
	var err error
	switch os.Args[1] {
	case "note-verify":
		out, err = noteVerify(*vkey, *notePath)
	case "note-sign":
		err = noteSign(*skey, *textPath)
	case "note-keygen":
		skey, vkey, e := note.GenerateKey(rand.Reader, *name)
		out, err = map[string]string{"skey": skey, "vkey": vkey}, e
	case "cosig-verify":
		out, err = cosigVerify(*vkey, *notePath)
	case "tiles-check":
		if *checkpointPath == "" {
			*checkpointPath = filepath.Join(*dir, "checkpoint")
		}
		out, err = tilesCheck(*dir, *checkpointPath, *vkey, ints(*indexes), ints(*oldSizes))
	case "tiles-make":
		out, err = tilesMake(*dir, *skey, *entriesPath, ints(*sizes), ints(*indexes), ints(*oldSizes))
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fail(err)
	}
	if out != nil {
		json.NewEncoder(os.Stdout).Encode(out)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "interop:", err)
	os.Exit(1)
}

func ints(list string) []int64 {
	var out []int64
	for _, s := range strings.Split(list, ",") {
		if s == "" {
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			fail(err)
		}
		out = append(out, n)
	}
	return out
}

// --- notes ---------------------------------------------------------------------------------

type sigJSON struct {
	Name   string `json:"name"`
	Hash   uint32 `json:"hash"`
	Base64 string `json:"base64"`
}

func sigs(list []note.Signature) []sigJSON {
	out := []sigJSON{}
	for _, s := range list {
		out = append(out, sigJSON{s.Name, s.Hash, s.Base64})
	}
	return out
}

func noteVerify(vkey, path string) (interface{}, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	msg, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"text": n.Text, "sigs": sigs(n.Sigs), "unverified": sigs(n.UnverifiedSigs)}, nil
}

func noteSign(skey, path string) error {
	s, err := note.NewSigner(skey)
	if err != nil {
		return err
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		return err
	}
	_, err = os.Stdout.Write(msg)
	return err
}

// cosigV1 verifies timestamped Ed25519 cosignatures (c2sp.org/tlog-cosignature), written here
// from the specification: key ID over 0x04 || key, signature = u64 time || Ed25519 over
// "cosignature/v1\ntime <t>\n" || checkpoint text.
type cosigV1 struct {
	name string
	hash uint32
	key  ed25519.PublicKey
}

func (c cosigV1) Name() string    { return c.name }
func (c cosigV1) KeyHash() uint32 { return c.hash }
func (c cosigV1) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	t := binary.BigEndian.Uint64(sig)
	if t > 1<<63-1 {
		return false
	}
	signed := append([]byte(fmt.Sprintf("cosignature/v1\ntime %d\n", t)), msg...)
	return ed25519.Verify(c.key, signed, sig[8:])
}

func cosigVerify(vkey, path string) (interface{}, error) {
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return nil, errors.New("malformed cosigner vkey")
	}
	key, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(key) != 33 || key[0] != 0x04 {
		return nil, errors.New("not a type 0x04 Ed25519 cosigner key")
	}
	sum := sha256.Sum256(append([]byte(parts[0]+"\n"), key...))
	hash := binary.BigEndian.Uint32(sum[:4])
	if fmt.Sprintf("%08x", hash) != parts[1] {
		return nil, errors.New("cosigner key ID does not match SHA-256(name || \\n || 0x04 || key)")
	}
	msg, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(msg, note.VerifierList(cosigV1{parts[0], hash, ed25519.PublicKey(key[1:])}))
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"text": n.Text, "sigs": sigs(n.Sigs)}, nil
}

// --- checkpoints and tiles -----------------------------------------------------------------

type checkpoint struct {
	origin string
	tree   tlog.Tree
}

// parseCheckpoint reads the three lines of a tlog-checkpoint body (tlog.ParseTree expects the
// go.sum database's fixed origin line, so the origin line is read here and the rest by tlog).
func parseCheckpoint(text string) (checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return checkpoint{}, errors.New("checkpoint has fewer than three lines")
	}
	tree, err := tlog.ParseTree([]byte("go.sum database tree\n" + lines[1] + "\n" + lines[2] + "\n"))
	if err != nil {
		return checkpoint{}, err
	}
	return checkpoint{lines[0], tree}, nil
}

func c2spPath(t tlog.Tile) string {
	return strings.Replace(t.Path(), fmt.Sprintf("tile/%d/", height), "tile/", 1)
}

func bundlePath(n int64, width int) string {
	t := tlog.Tile{H: height, L: 0, N: n, W: width}
	return strings.Replace(c2spPath(t), "tile/0/", "tile/entries/", 1)
}

// dirTiles is a tlog.TileReader over a C2SP tile directory.
type dirTiles struct{ dir string }

func (d dirTiles) Height() int { return height }
func (d dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		data, err := os.ReadFile(filepath.Join(d.dir, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		out[i] = data
	}
	return out, nil
}
func (d dirTiles) SaveTiles([]tlog.Tile, [][]byte) {}

func readBundle(dir string, n int64, width int) ([][]byte, error) {
	data, err := os.ReadFile(filepath.Join(dir, bundlePath(n, width)))
	if err != nil {
		return nil, err
	}
	var entries [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("truncated entry bundle")
		}
		size := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+size {
			return nil, errors.New("truncated entry")
		}
		entries = append(entries, data[2:2+size])
		data = data[2+size:]
	}
	if len(entries) != width {
		return nil, fmt.Errorf("bundle %d holds %d entries, want %d", n, len(entries), width)
	}
	return entries, nil
}

func readEntries(dir string, size int64) ([][]byte, error) {
	var all [][]byte
	for n := int64(0); n*256 < size; n++ {
		width := 256
		if rest := size - n*256; rest < 256 {
			width = int(rest)
		}
		entries, err := readBundle(dir, n, width)
		if err != nil {
			return nil, err
		}
		all = append(all, entries...)
	}
	return all, nil
}

// memHashes is an in-memory tlog.HashReader of stored hashes.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x >= int64(len(m)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = m[x]
	}
	return out, nil
}

func storeAll(entries [][]byte) (memHashes, error) {
	var stored memHashes
	for i, e := range entries {
		hashes, err := tlog.StoredHashes(int64(i), e, stored)
		if err != nil {
			return nil, err
		}
		stored = append(stored, hashes...)
	}
	return stored, nil
}

type proofJSON struct {
	Index    int64    `json:"index,omitempty"`
	OldSize  int64    `json:"old_size,omitempty"`
	LeafHash string   `json:"leaf_hash,omitempty"`
	OldRoot  string   `json:"old_root,omitempty"`
	Proof    []string `json:"proof"`
}

func hashes64(list []tlog.Hash) []string {
	out := []string{}
	for _, h := range list {
		out = append(out, h.String())
	}
	return out
}

func proofs(tree tlog.Tree, r tlog.HashReader, indexes []int64, leafHashes func(int64) (tlog.Hash, error),
	oldSizes []int64) ([]proofJSON, []proofJSON, error) {
	var inc, cons []proofJSON
	for _, i := range indexes {
		p, err := tlog.ProveRecord(tree.N, i, r)
		if err != nil {
			return nil, nil, fmt.Errorf("ProveRecord(%d, %d): %v", tree.N, i, err)
		}
		leaf, err := leafHashes(i)
		if err != nil {
			return nil, nil, err
		}
		if err := tlog.CheckRecord(p, tree.N, tree.Hash, i, leaf); err != nil {
			return nil, nil, fmt.Errorf("CheckRecord(entry %d): %v", i, err)
		}
		inc = append(inc, proofJSON{Index: i, LeafHash: leaf.String(), Proof: hashes64(p)})
	}
	for _, m := range oldSizes {
		old, err := tlog.TreeHash(m, r)
		if err != nil {
			return nil, nil, fmt.Errorf("TreeHash(%d): %v", m, err)
		}
		p, err := tlog.ProveTree(tree.N, m, r)
		if err != nil {
			return nil, nil, fmt.Errorf("ProveTree(%d, %d): %v", tree.N, m, err)
		}
		if err := tlog.CheckTree(p, tree.N, tree.Hash, m, old); err != nil {
			return nil, nil, fmt.Errorf("CheckTree(%d -> %d): %v", m, tree.N, err)
		}
		cons = append(cons, proofJSON{OldSize: m, OldRoot: old.String(), Proof: hashes64(p)})
	}
	return inc, cons, nil
}

func tilesCheck(dir, checkpointPath, vkey string, indexes, oldSizes []int64) (interface{}, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, err
	}
	msg, err := os.ReadFile(checkpointPath)
	if err != nil {
		return nil, err
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, err
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return nil, err
	}
	// Every hash read through the TileHashReader is authenticated against the checkpoint's root.
	r := tlog.TileHashReader(cp.tree, dirTiles{dir})
	root, err := tlog.TreeHash(cp.tree.N, r)
	if err != nil {
		return nil, fmt.Errorf("TreeHash from tiles: %v", err)
	}
	if root != cp.tree.Hash {
		return nil, fmt.Errorf("tiles hash to %v, checkpoint says %v", root, cp.tree.Hash)
	}
	entries, err := readEntries(dir, cp.tree.N)
	if err != nil {
		return nil, err
	}
	leaf := func(i int64) (tlog.Hash, error) { return tlog.RecordHash(entries[i]), nil }
	inc, cons, err := proofs(cp.tree, r, indexes, leaf, oldSizes)
	if err != nil {
		return nil, err
	}
	// Rebuild every tile of the tree from the entries with Go and compare with the files.
	stored, err := storeAll(entries)
	if err != nil {
		return nil, err
	}
	compared := 0
	for _, t := range tlog.NewTiles(height, 0, cp.tree.N) {
		if t.W < 1<<height && t.W != partialWidth(t, cp.tree.N) {
			continue // Go lists every partial width; a C2SP log publishes those of its checkpoints
		}
		want, err := tlog.ReadTileData(t, stored)
		if err != nil {
			return nil, err
		}
		got, err := os.ReadFile(filepath.Join(dir, c2spPath(t)))
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(got, want) {
			return nil, fmt.Errorf("%s differs from the tile Go computes from the entries", c2spPath(t))
		}
		compared++
	}
	return map[string]interface{}{
		"origin": cp.origin, "size": cp.tree.N, "root": root.String(), "tiles_compared": compared,
		"inclusion": inc, "consistency": cons,
	}, nil
}

func partialWidth(t tlog.Tile, size int64) int {
	return int((size >> uint(t.L*height)) - t.N<<height)
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}

func bundle(entries [][]byte) []byte {
	var buf bytes.Buffer
	for _, e := range entries {
		binary.Write(&buf, binary.BigEndian, uint16(len(e)))
		buf.Write(e)
	}
	return buf.Bytes()
}

func tilesMake(dir, skey, entriesPath string, sizes, indexes, oldSizes []int64) (interface{}, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(entriesPath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var entries [][]byte
	scan := bufio.NewScanner(f)
	scan.Buffer(make([]byte, 1<<16), 1<<16)
	for scan.Scan() {
		entries = append(entries, append([]byte(nil), scan.Bytes()...))
	}
	var stored memHashes
	var done int64
	var tree tlog.Tree
	for _, size := range sizes {
		for ; done < size; done++ {
			hashes, err := tlog.StoredHashes(done, entries[done], stored)
			if err != nil {
				return nil, err
			}
			stored = append(stored, hashes...)
		}
		for _, t := range tlog.NewTiles(height, 0, size) {
			if t.W < 1<<height && t.W != partialWidth(t, size) {
				continue
			}
			data, err := tlog.ReadTileData(t, stored)
			if err != nil {
				return nil, err
			}
			if err := writeFile(filepath.Join(dir, c2spPath(t)), data); err != nil {
				return nil, err
			}
			if t.L == 0 {
				first := t.N << height
				if err := writeFile(filepath.Join(dir, bundlePath(t.N, t.W)), bundle(entries[first:first+int64(t.W)])); err != nil {
					return nil, err
				}
			}
		}
		root, err := tlog.TreeHash(size, stored)
		if err != nil {
			return nil, err
		}
		tree = tlog.Tree{N: size, Hash: root}
		text := fmt.Sprintf("%s\n%d\n%s\n", s.Name(), size, root)
		msg, err := note.Sign(&note.Note{Text: text}, s)
		if err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(dir, "checkpoint"), msg); err != nil {
			return nil, err
		}
		if err := writeFile(filepath.Join(dir, fmt.Sprintf("checkpoint.%d", size)), msg); err != nil {
			return nil, err
		}
	}
	leaf := func(i int64) (tlog.Hash, error) { return tlog.RecordHash(entries[i]), nil }
	inc, cons, err := proofs(tree, stored, indexes, leaf, oldSizes)
	if err != nil {
		return nil, err
	}
	return map[string]interface{}{"size": tree.N, "root": tree.Hash.String(), "inclusion": inc, "consistency": cons}, nil
}
