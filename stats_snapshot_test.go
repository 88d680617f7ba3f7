package scdb_test

import "testing"

// Stats shows the snapshots that hold space, and which is oldest.
func TestStatsShowsOpenSnapshots(t *testing.T) {
	db := newDB(t)
	mustPut(t, db, "l", "a", []byte("1"))
	st, err := db.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.OpenSnapshots != 0 || st.OldestSnapshot != 0 {
		t.Errorf("no snapshot open: Stats says %d, oldest %d", st.OpenSnapshots, st.OldestSnapshot)
	}
	old, err := db.Begin(false) // forgotten
	if err != nil {
		t.Fatal(err)
	}
	oldGen := db.Generation()
	mustPut(t, db, "l", "a", []byte("2"))
	newer, err := db.Begin(false)
	if err != nil {
		t.Fatal(err)
	}
	if st, err = db.Stats(); err != nil {
		t.Fatal(err)
	}
	if st.OpenSnapshots != 2 || st.OldestSnapshot != oldGen {
		t.Errorf("two snapshots open, the oldest at %d: Stats says %d, oldest %d", oldGen, st.OpenSnapshots, st.OldestSnapshot)
	}
	old.Rollback()
	newer.Rollback()
	if st, err = db.Stats(); err != nil || st.OpenSnapshots != 0 {
		t.Errorf("after both ended: %v, %+v", err, st)
	}
}
