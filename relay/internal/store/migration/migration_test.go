package migration

import (
	"testing"
	"testing/fstest"
)

func TestLoadOrdersAndRejects(t *testing.T) {
	good := fstest.MapFS{
		"m/0010_b.sql": {Data: []byte("B")},
		"m/0002_a.sql": {Data: []byte("A")},
		"m/notes.txt":  {Data: []byte("ignored")},
	}
	files, err := Load(good, "m")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || files[0].Version != 2 || files[0].SQL != "A" || files[1].Version != 10 {
		t.Fatalf("loaded %+v", files)
	}
	if got := Pending(files, []int{2}); len(got) != 1 || got[0].Version != 10 {
		t.Fatalf("pending %+v", got)
	}
	for name, fsys := range map[string]fstest.MapFS{
		"unnumbered": {"m/init.sql": {}},
		"zero":       {"m/0000_x.sql": {}},
		"duplicate":  {"m/0001_x.sql": {}, "m/01_y.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
