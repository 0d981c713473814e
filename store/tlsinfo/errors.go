package tlsinfo

import "errors"

var (
	// ErrConfig wraps every error in TLS settings or their files; the
	// message names the file or setting.
	ErrConfig = errors.New("bad TLS settings")
	// ErrVerify wraps a certificate of the other side that is refused:
	// missing, not chained to a trusted root, or not the allowed one.
	ErrVerify = errors.New("TLS peer certificate refused")
)
