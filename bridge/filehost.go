package bridge

import (
	"context"
	"fmt"

	"xircd/internal/filehost"
	"xircd/xmpp"
)

// Uploads (soju.im/FILEHOST backed by XEP-0363). On connecting, the bridge
// looks for the server's upload service (onUploadService). The HTTP
// endpoint (internal/filehost) runs outside the owner loop and only asks
// it for a slot: UploadSlot posts the request, the owner sends it, and the
// answer event hands the slot back (onUploadSlot).
//
// The ISUPPORT token is fixed when a client registers, and the service is
// known only once XMPP is connected: the token is advertised whenever the
// endpoint is configured, and an upload while the server offers no upload
// service (or XMPP is down) is answered 503 with the reason.

// uploader is what the XMPP session offers for uploads.
type uploader interface {
	FindUploadService(ctx context.Context) (string, error)
	RequestUploadSlot(ctx context.Context, service, filename string, size int64, contentType string) (string, error)
}

// uploadService is the server's XEP-0363 service; jid "" when there is
// none (or it is not known yet).
type uploadService struct {
	jid     string
	maxSize int64 // 0: the service names no limit
}

// slotAnswer is the answer to UploadSlot.
type slotAnswer struct {
	slot filehost.Slot
	err  error
}

type opUploadSlot struct {
	ctx         context.Context
	name, ctype string
	size        int64
	reply       chan slotAnswer
}

func (opUploadSlot) isOp() {}

// UploadSlot implements filehost.Slots: an XEP-0363 slot for a file. It is
// safe to call from any goroutine.
func (b *Bridge) UploadSlot(ctx context.Context, name string, size int64, contentType string) (filehost.Slot, error) {
	reply := make(chan slotAnswer, 1)
	if !b.post(opUploadSlot{ctx: ctx, name: name, size: size, ctype: contentType, reply: reply}) {
		return filehost.Slot{}, fmt.Errorf("%w: %v", filehost.ErrUnavailable, errStopped)
	}
	select {
	case a := <-reply:
		return a.slot, a.err
	case <-ctx.Done():
		return filehost.Slot{}, ctx.Err()
	}
}

// findUploadService asks the server for its upload service, which only
// the file host uses: without one (FileHostURL "", as in multi-user mode)
// the server is spared the discovery at every login.
func (b *Bridge) findUploadService() {
	up, ok := b.x.(uploader)
	if !ok || b.cfg.FileHostURL == "" {
		return
	}
	err := b.startRequest(request{kind: requestUploadService}, up.FindUploadService)
	if err != nil {
		b.log.Info("cannot look for an upload service", "err", err)
	}
}

func (b *Bridge) onUploadService(ev xmpp.UploadService) {
	if _, ok := b.answered(ev.ID); !ok {
		return
	}
	if ev.Err != nil {
		b.log.Info("looking for an upload service failed", "err", ev.Err)
		return
	}
	b.upload = uploadService{jid: ev.JID, maxSize: ev.MaxSize}
	if ev.JID == "" {
		b.log.Info("the server offers no file upload (XEP-0363)")
	}
}

// requestUploadSlot runs in the owner loop for UploadSlot.
func (b *Bridge) requestUploadSlot(o opUploadSlot) {
	up, ok := b.x.(uploader)
	fail := func(err error) { o.reply <- slotAnswer{err: err} }
	switch {
	case !ok || b.upload.jid == "":
		fail(fmt.Errorf("%w: the XMPP server offers no file upload (XEP-0363)", filehost.ErrUnavailable))
		return
	case !b.connected:
		fail(fmt.Errorf("%w: XMPP is not connected", filehost.ErrUnavailable))
		return
	case b.upload.maxSize > 0 && o.size > b.upload.maxSize:
		fail(&filehost.TooLargeError{Max: b.upload.maxSize})
		return
	}
	service := b.upload.jid
	err := b.startRequestIn(o.ctx, requestTimeout, request{kind: requestUploadSlot, slot: o.reply}, func(ctx context.Context) (string, error) {
		return up.RequestUploadSlot(ctx, service, o.name, o.size, o.ctype)
	})
	if err != nil {
		fail(err)
	}
}

func (b *Bridge) onUploadSlot(ev xmpp.UploadSlot) {
	r, ok := b.answered(ev.ID)
	if !ok {
		return
	}
	if ev.Err != nil {
		r.slot <- slotAnswer{err: ev.Err}
		return
	}
	r.slot <- slotAnswer{slot: filehost.Slot{PutURL: ev.PutURL, GetURL: ev.GetURL, Header: ev.Header}}
}
