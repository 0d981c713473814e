#include "textflag.h"

// Each loop rounds p down to its cache line and steps 64 bytes until it
// passes p+n, so a range that starts or ends inside a line flushes that line.

// func clwbLines(p unsafe.Pointer, n uintptr)
TEXT ·clwbLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), BX
	TESTQ BX, BX
	JZ clwbdone
	ADDQ AX, BX
	ANDQ $-64, AX
clwbloop:
	CLWB (AX)
	ADDQ $64, AX
	CMPQ AX, BX
	JCS clwbloop
clwbdone:
	RET

// func clflushoptLines(p unsafe.Pointer, n uintptr)
TEXT ·clflushoptLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), BX
	TESTQ BX, BX
	JZ optdone
	ADDQ AX, BX
	ANDQ $-64, AX
optloop:
	CLFLUSHOPT (AX)
	ADDQ $64, AX
	CMPQ AX, BX
	JCS optloop
optdone:
	RET

// func clflushLines(p unsafe.Pointer, n uintptr)
TEXT ·clflushLines(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ n+8(FP), BX
	TESTQ BX, BX
	JZ flushdone
	ADDQ AX, BX
	ANDQ $-64, AX
flushloop:
	CLFLUSH (AX)
	ADDQ $64, AX
	CMPQ AX, BX
	JCS flushloop
flushdone:
	RET

// func sfence()
TEXT ·sfence(SB), NOSPLIT, $0-0
	SFENCE
	RET

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET
