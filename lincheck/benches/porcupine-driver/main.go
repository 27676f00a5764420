// Command porcupine-driver checks a faultline JSON Lines history (HISTORY-FORMAT.md,
// version 1) with Porcupine, for paired comparisons with `faultline check-history`.
//
// It reads the same file lincheck reads, treats it as lincheck does and asks Porcupine:
//   - fail ops are dropped; reads without a recorded result (info or unfinished) are
//     dropped (they constrain nothing);
//   - info and unfinished ops return at +infinity (they may take effect any time after
//     their invoke, or never: a write that never happened is the same as one placed
//     after everything);
//   - times are event positions (the file's order is real-time order);
//   - the history is partitioned by key (null and absent keys are one key), as
//     lincheck partitions it; the state of a key is its value;
//   - models: register (read, write), cas-register (read, write, cas) and kv (get, put,
//     append, cas), with the header's init (default null, or "" for kv).
//
// Usage: porcupine-driver [-timeout 90s] FILE
// Prints linearizable / not linearizable / unknown and exits 0 / 1 / 3 (2: bad input).
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"sort"
	"time"

	"github.com/anishathalye/porcupine"
)

// A value is kept as a string: "s" + the text for a JSON string, "j" + compact JSON
// for everything else, so equal values are equal strings.
func encode(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "jnull", nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return "s" + s, nil
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v interface{}
	if err := d.Decode(&v); err != nil {
		return "", err
	}
	out, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return "j" + string(out), nil
}

type input struct {
	key      string // the partition (encoded key)
	f        string // read, write, append, cas
	arg      string // encoded value (write), suffix (append), from (cas)
	to       string // cas
	hasOut   bool
	out      string // read: the value seen; cas: "jtrue" or "jfalse"
	appendOK bool   // append's argument was a string
}

type line struct {
	Process *uint64         `json:"process"`
	Type    string          `json:"type"`
	F       string          `json:"f"`
	Key     json.RawMessage `json:"key"`
	Value   json.RawMessage `json:"value"`
}

type header struct {
	Format string          `json:"format"`
	Model  string          `json:"model"`
	Init   json.RawMessage `json:"init"`
}

type pending struct {
	key  string
	in   input
	call int64
}

func fail(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	os.Exit(2)
}

func main() {
	timeout := flag.Duration("timeout", 90*time.Second, "give up (unknown) after this long")
	flag.Parse()
	if flag.NArg() != 1 {
		fail("usage: porcupine-driver [-timeout 90s] FILE")
	}
	file := flag.Arg(0)
	fh, err := os.Open(file)
	if err != nil {
		fail("cannot read %s: %v", file, err)
	}
	sc := bufio.NewScanner(fh)
	sc.Buffer(make([]byte, 1<<20), 1<<30)
	var h header
	lineNo := 0
	for sc.Scan() {
		lineNo++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		if err := json.Unmarshal(sc.Bytes(), &h); err != nil {
			fail("%s:%d: header: %v", file, lineNo, err)
		}
		break
	}
	if h.Format != "faultline-history" {
		fail("%s: not a faultline-history file", file)
	}
	init := "jnull"
	if h.Model == "kv" {
		init = "s"
	}
	if len(h.Init) > 0 {
		if init, err = encode(h.Init); err != nil {
			fail("%s: init: %v", file, err)
		}
	}

	open := map[uint64]pending{}
	var ops []porcupine.Operation
	add := func(key string, op porcupine.Operation) { ops = append(ops, op) }
	var t int64
	for sc.Scan() {
		lineNo++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var l line
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Process == nil {
			fail("%s:%d: not an event: %v", file, lineNo, err)
		}
		t++
		p := *l.Process
		switch l.Type {
		case "invoke":
			key := "jnull"
			if len(l.Key) > 0 {
				if key, err = encode(l.Key); err != nil {
					fail("%s:%d: key: %v", file, lineNo, err)
				}
			}
			in := input{}
			switch l.F {
			case "read", "get":
				in.f = "read"
			case "write", "put":
				in.f = "write"
				in.arg, err = encode(l.Value)
			case "append":
				in.f = "append"
				in.arg, err = encode(l.Value)
				in.appendOK = len(in.arg) > 0 && in.arg[0] == 's'
				in.arg = in.arg[1:]
			case "cas":
				in.f = "cas"
				var pair []json.RawMessage
				if err = json.Unmarshal(l.Value, &pair); err == nil && len(pair) == 2 {
					if in.arg, err = encode(pair[0]); err == nil {
						in.to, err = encode(pair[1])
					}
				} else if err == nil {
					err = fmt.Errorf("a cas argument is [from, to]")
				}
			default:
				fail("%s:%d: unknown f %q", file, lineNo, l.F)
			}
			if err != nil {
				fail("%s:%d: value: %v", file, lineNo, err)
			}
			in.key = key
			open[p] = pending{key: key, in: in, call: t}
		case "ok", "info", "fail":
			o, ok := open[p]
			if !ok {
				fail("%s:%d: %s without an invoke", file, lineNo, l.Type)
			}
			delete(open, p)
			if l.Type == "fail" {
				continue
			}
			ret := int64(math.MaxInt64)
			if l.Type == "ok" {
				ret = t
				if o.in.f == "read" || o.in.f == "cas" {
					o.in.hasOut = true
					if o.in.out, err = encode(l.Value); err != nil {
						fail("%s:%d: value: %v", file, lineNo, err)
					}
				}
			}
			if o.in.f == "read" && !o.in.hasOut {
				continue // unconstrained
			}
			add(o.key, porcupine.Operation{ClientId: int(p), Input: o.in, Call: o.call, Return: ret})
		default:
			fail("%s:%d: unknown type %q", file, lineNo, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		fail("%s: %v", file, err)
	}
	// Unfinished ops: pending for ever (reads among them constrain nothing).
	var left []uint64
	for p := range open {
		left = append(left, p)
	}
	sort.Slice(left, func(a, b int) bool { return open[left[a]].call < open[left[b]].call })
	for _, p := range left {
		if o := open[p]; o.in.f != "read" {
			add(o.key, porcupine.Operation{ClientId: int(p), Input: o.in, Call: o.call, Return: math.MaxInt64})
		}
	}
	model := porcupine.Model{
		Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
			at := map[string]int{}
			var out [][]porcupine.Operation
			for _, op := range history {
				k := op.Input.(input).key
				i, ok := at[k]
				if !ok {
					i = len(out)
					at[k] = i
					out = append(out, nil)
				}
				out[i] = append(out[i], op)
			}
			return out
		},
		Init: func() interface{} { return init },
		Step: func(state, in, out interface{}) (bool, interface{}) {
			s := state.(string)
			i := in.(input)
			switch i.f {
			case "read":
				return i.out == s, s
			case "write":
				return true, i.arg
			case "append":
				if !i.appendOK {
					return false, s
				}
				if s == "jnull" {
					return true, "s" + i.arg
				}
				if len(s) > 0 && s[0] == 's' {
					return true, s + i.arg
				}
				return false, s
			case "cas":
				swaps := s == i.arg
				if i.hasOut && (i.out == "jtrue") != swaps {
					return false, s
				}
				if swaps {
					return true, i.to
				}
				return true, s
			}
			return false, s
		},
		Equal: func(a, b interface{}) bool { return a.(string) == b.(string) },
		Hash: func(state interface{}) uint64 {
			h := uint64(14695981039346656037)
			for _, c := range []byte(state.(string)) {
				h ^= uint64(c)
				h *= 1099511628211
			}
			return h
		},
	}
	switch porcupine.CheckOperationsTimeout(model, ops, *timeout) {
	case porcupine.Ok:
		fmt.Println("linearizable")
	case porcupine.Illegal:
		fmt.Println("not linearizable")
		os.Exit(1)
	default:
		fmt.Println("unknown")
		os.Exit(3)
	}
}
