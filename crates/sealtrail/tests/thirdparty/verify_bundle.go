// An independent verifier of Sealtrail evidence bundles, written only
// against the Go reference packages golang.org/x/mod/sumdb/note (C2SP
// signed notes) and golang.org/x/mod/sumdb/tlog (RFC 6962 trees). If it
// accepts Sealtrail's checkpoints and proofs, third-party tooling can
// verify Sealtrail logs without any Sealtrail code.
//
// Usage: verify_bundle BUNDLE.json VKEY
// Prints "ok: N events, M checkpoints, C consistency proofs" or exits 1.
package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

type checkpoint struct {
	TreeSize int64  `json:"tree_size"`
	RootHash string `json:"root_hash"`
	Note     string `json:"note"`
}

type consistency struct {
	First  int64    `json:"first"`
	Second int64    `json:"second"`
	Proof  []string `json:"proof"`
}

type logEvidence struct {
	OrganizationID string        `json:"organization_id"`
	Origin         string        `json:"origin"`
	Checkpoints    []checkpoint  `json:"checkpoints"`
	Consistency    []consistency `json:"consistency"`
}

type event struct {
	ID             string   `json:"id"`
	OrganizationID string   `json:"organization_id"`
	LeafIndex      int64    `json:"leaf_index"`
	LeafHash       string   `json:"leaf_hash"`
	Entry          *string  `json:"entry"`
	TreeSize       int64    `json:"tree_size"`
	InclusionProof []string `json:"inclusion_proof"`
}

type bundle struct {
	Format string        `json:"format"`
	Logs   []logEvidence `json:"logs"`
	Events []event       `json:"events"`
}

type head struct {
	size int64
	root tlog.Hash
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "FAIL: "+format+"\n", args...)
	os.Exit(1)
}

func hashOf(s string) tlog.Hash {
	var h tlog.Hash
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != len(h) {
		fail("bad hash %q", s)
	}
	copy(h[:], raw)
	return h
}

func hashes(v []string) []tlog.Hash {
	out := make([]tlog.Hash, len(v))
	for i, s := range v {
		out[i] = hashOf(s)
	}
	return out
}

func main() {
	if len(os.Args) != 3 {
		fail("usage: verify_bundle BUNDLE.json VKEY")
	}
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail("%v", err)
	}
	var b bundle
	if err := json.Unmarshal(data, &b); err != nil {
		fail("bundle: %v", err)
	}
	if b.Format != "sealtrail-bundle/v1" {
		fail("format %q", b.Format)
	}
	v, err := note.NewVerifier(os.Args[2])
	if err != nil {
		fail("vkey: %v", err)
	}
	verifiers := note.VerifierList(v)
	heads := map[string]head{}
	nCheckpoints, nConsistency := 0, 0
	for _, l := range b.Logs {
		var prev *head
		for _, c := range l.Checkpoints {
			n, err := note.Open([]byte(c.Note), verifiers)
			if err != nil {
				fail("checkpoint of %s at %d: %v", l.OrganizationID, c.TreeSize, err)
			}
			lines := strings.Split(n.Text, "\n")
			if len(lines) < 4 {
				fail("checkpoint of %s: too few lines", l.OrganizationID)
			}
			if lines[0] != v.Name()+"/"+l.OrganizationID || lines[0] != l.Origin {
				fail("checkpoint origin %q", lines[0])
			}
			size, err := strconv.ParseInt(lines[1], 10, 64)
			if err != nil || size != c.TreeSize {
				fail("checkpoint size %q", lines[1])
			}
			root := hashOf(lines[2])
			if prev != nil {
				found := false
				for _, cp := range l.Consistency {
					if cp.First == prev.size && cp.Second == size {
						if err := tlog.CheckTree(hashes(cp.Proof), size, root, prev.size, prev.root); err != nil {
							fail("consistency %d -> %d of %s: %v", prev.size, size, l.OrganizationID, err)
						}
						found = true
						nConsistency++
					}
				}
				if !found {
					fail("no consistency proof %d -> %d", prev.size, size)
				}
			}
			h := head{size, root}
			prev = &h
			heads[l.OrganizationID+"/"+strconv.FormatInt(size, 10)] = h
			nCheckpoints++
		}
	}
	for _, e := range b.Events {
		h, ok := heads[e.OrganizationID+"/"+strconv.FormatInt(e.TreeSize, 10)]
		if !ok {
			fail("event %s: no checkpoint at size %d", e.ID, e.TreeSize)
		}
		leaf := hashOf(e.LeafHash)
		if e.Entry != nil {
			leaf = tlog.RecordHash([]byte(*e.Entry))
		}
		if err := tlog.CheckRecord(hashes(e.InclusionProof), h.size, h.root, e.LeafIndex, leaf); err != nil {
			fail("event %s (org %s, index %d): %v", e.ID, e.OrganizationID, e.LeafIndex, err)
		}
	}
	fmt.Printf("ok: %d events, %d checkpoints, %d consistency proofs\n", len(b.Events), nCheckpoints, nConsistency)
}
