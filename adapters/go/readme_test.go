package milo

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const readmeMarker = "<!-- readme-test: go -->"

// readmeSnippet returns the fenced ```go block that follows the marker in the repository README.
func readmeSnippet(t *testing.T, root string) string {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	state := 0 // 0: looking for the marker, 1: want the fence, 2: in the block
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		switch state {
		case 0:
			if strings.TrimSpace(line) == readmeMarker {
				state = 1
			}
		case 1:
			if strings.TrimSpace(line) != "```go" {
				t.Fatalf("README: %s is not followed by a ```go fence but %q", readmeMarker, line)
			}
			state = 2
		case 2:
			if strings.TrimSpace(line) == "```" {
				return strings.Join(lines, "\n") + "\n"
			}
			lines = append(lines, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if state == 0 {
		t.Fatalf("README.md has no %s marker", readmeMarker)
	}
	t.Fatal("README: the Go snippet's fence is not closed")
	return ""
}

// TestReadmeSnippet builds the README's Go snippet as its own module (requiring this package
// through a replace directive) and runs it from the repository root.
func TestReadmeSnippet(t *testing.T) {
	root := repoRoot(t)
	src := readmeSnippet(t, root)
	if !strings.Contains(src, "package main") || !strings.Contains(src, `"milo.dev/milo"`) {
		t.Fatalf("the README snippet is not a main package using milo.dev/milo:\n%s", src)
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("go tool not on PATH: %v", err)
	}
	adapter, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	mod := t.TempDir()
	gomod := "module readmesnippet\n\ngo 1.21\n\nrequire milo.dev/milo v0.0.0\n\nreplace milo.dev/milo => " + adapter + "\n"
	ok(t, os.WriteFile(filepath.Join(mod, "go.mod"), []byte(gomod), 0o644))
	ok(t, os.WriteFile(filepath.Join(mod, "main.go"), []byte(src), 0o644))
	bin := filepath.Join(mod, "snippet")
	build := exec.Command(goTool, "build", "-o", bin, ".")
	build.Dir = mod
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build of the README snippet: %v\n%s\n%s", err, out, src)
	}

	tmp := t.TempDir()
	run := exec.Command(bin)
	run.Dir = root
	run.Env = append(os.Environ(), "TMPDIR="+tmp)
	out, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("README snippet failed: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"safetensors safetensors.StateDict [-0.045898438 -0.095703125]\n",
		"5 MILO_ERR_NOT_FOUND missing.milo.json: ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("snippet output lacks %q:\n%s", want, text)
		}
	}

	// The document it saved.
	r := newRegistry(t)
	doc, err := r.Load(filepath.Join(tmp, "scorer.milo.yaml"), nil)
	ok(t, err)
	defer doc.Close()
	if name, _ := doc.Root().Name(); name != "acme.Scorer" {
		t.Errorf("saved root %q", name)
	}
	state := doc.Root().State()
	if th, err := state.Find("threshold").Float(); th != 0.5 || err != nil {
		t.Errorf("threshold %v (%v)", th, err)
	}
	if w, err := state.Find("weights").Float32s(); !reflect.DeepEqual(w, []float32{0.5, -1, 2}) {
		t.Errorf("weights %v (%v)", w, err)
	}
}
