package pipenet

import (
	"errors"
	"net"
	"testing"
	"time"
)

func TestDialAcceptClose(t *testing.T) {
	l := Listen()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	client, err := l.Dial(time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server := <-accepted
	go client.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := server.Read(buf); err != nil || buf[0] != 'x' {
		t.Fatalf("read %q, %v", buf, err)
	}
	if _, err := l.Dial(10 * time.Millisecond); !errors.Is(err, ErrNotAccepted) {
		t.Errorf("Dial with nobody accepting: %v", err)
	}
	l.Close()
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v", err)
	}
	if _, err := l.Dial(time.Second); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Dial after Close: %v", err)
	}
}
