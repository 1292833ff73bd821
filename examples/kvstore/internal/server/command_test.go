package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCommandRoundTrip(t *testing.T) {
	ops := []Op{
		{Kind: opPut, Key: "a", Value: "1"},
		{Kind: opDelete, Key: "b/c"},
		{Kind: opPut, Key: "d", Value: string(make([]byte, 300))},
	}
	got, err := decodeCommand(encodeCommand(ops))
	require.NoError(t, err)
	assert.Equal(t, ops, got)
}

func TestDecodeCommandRefusesMalformedInput(t *testing.T) {
	good := encodeCommand([]Op{{Kind: opPut, Key: "k", Value: "v"}})
	for name, b := range map[string][]byte{
		"empty":            nil,
		"unknown version":  {9, 1, 1, 1, 'k', 1, 'v'},
		"no operations":    {commandVersion, 0},
		"truncated":        good[:len(good)-1],
		"trailing bytes":   append(append([]byte(nil), good...), 0),
		"unknown kind":     {commandVersion, 1, 7, 1, 'k'},
		"empty key":        {commandVersion, 1, byte(opDelete), 0},
		"key past the end": {commandVersion, 1, byte(opDelete), 5, 'k'},
		"too many ops":     {commandVersion, 0xff, 0xff, 0x03},
	} {
		_, err := decodeCommand(b)
		assert.ErrorIs(t, err, errBadCommand, name)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(encodeCommand([]Op{{Kind: opPut, Key: "k", Value: "v"}, {Kind: opDelete, Key: "x"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		ops, err := decodeCommand(b)
		if err != nil {
			return
		}
		again, err := decodeCommand(encodeCommand(ops))
		require.NoError(t, err)
		require.Equal(t, ops, again)
	})
}
