package transport

import "testing"

func TestLocalLiveLines(t *testing.T) { testLiveLines(t, NewLocal()) }

func TestLocalUploadAtomic(t *testing.T) { testUploadAtomic(t, NewLocal(), t.TempDir()) }

func TestLocalDial(t *testing.T) { testDial(t, NewLocal()) }
