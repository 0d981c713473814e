package model

import "errors"

// ErrConfig reports a configuration the model cannot simulate; the
// wrapping error names the field.
var ErrConfig = errors.New("model: invalid config")
