package store

// Get is next to Put in store/store.go, which exists.
func Get() {}
