#!/bin/sh
# Regenerates the test keys and the tokens signed by OpenSSL, which the JWT
# tests verify: an implementation other than ours made them. The claims
# expire in 2100.
set -e
cd "$(dirname "$0")"
openssl genrsa -out rsa.key 2048 2>/dev/null
openssl rsa -in rsa.key -pubout -out rsa.pub 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out ec256.key
openssl ec -in ec256.key -pubout -out ec256.pub 2>/dev/null
openssl genpkey -algorithm ed25519 -out ed25519.key
openssl pkey -in ed25519.key -pubout -out ed25519.pub
b64u() { base64 -w0 | tr '+/' '-_' | tr -d '='; }
claims=$(printf '{"username":"alice","revision":3,"exp":4102444800}' | b64u)
for alg in RS256 PS256 ES256 EdDSA; do
	in="$(printf '{"alg":"%s","typ":"JWT"}' $alg | b64u).$claims"
	case $alg in
	RS256) sig=$(printf '%s' "$in" | openssl dgst -sha256 -sign rsa.key | b64u) ;;
	PS256) sig=$(printf '%s' "$in" | openssl dgst -sha256 -sign rsa.key -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 | b64u) ;;
	ES256)
		# JWS wants r and s as two 32-byte big-endian numbers, not DER.
		der=$(printf '%s' "$in" | openssl dgst -sha256 -sign ec256.key | xxd -p | tr -d '\n')
		sig=$(python3 -c "
import base64
d = bytes.fromhex('$der')
def rd(i):
    n = d[i + 1]
    return d[i + 2:i + 2 + n].lstrip(b'\0').rjust(32, b'\0'), i + 2 + n
r, i = rd(2)
s, _ = rd(i)
print(base64.urlsafe_b64encode(r + s).decode().rstrip('='))") ;;
	EdDSA)
		f=$(mktemp)
		printf '%s' "$in" >"$f"
		sig=$(openssl pkeyutl -sign -inkey ed25519.key -rawin -in "$f" | b64u)
		rm -f "$f" ;;
	esac
	echo "$in.$sig" >$alg.token
done
