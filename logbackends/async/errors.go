package async

import "errors"

// ErrBadSyncInterval is returned by Open for a negative Options.SyncInterval.
var ErrBadSyncInterval = errors.New("async: sync interval must not be negative")
