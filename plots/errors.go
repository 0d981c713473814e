package plots

import "errors"

// ErrRender reports a figure or report that could not be drawn or written;
// the wrapping error names the file.
var ErrRender = errors.New("plots: render")
