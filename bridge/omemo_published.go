package bridge

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"

	"xircd/xmpp/omemo"
)

// omemoPublishedFileName is the file in state_dir holding a digest of the
// OMEMO bundle the server last confirmed: a login republishes the bundle
// only when it changed since, or when the account's device list lacked
// xircd's device (the server may have lost both). A bundle costs a server
// like Prosody about as much to store as a whole login.
const omemoPublishedFileName = "omemo-published"

// bundleDigest identifies a bundle's content.
func bundleDigest(b omemo.Bundle) string {
	data, err := omemo.MarshalBundle(b)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// publishBundleAfterLogin publishes the bundle unless the server has it:
// listed tells whether the account's device list held xircd's device.
func (b *Bridge) publishBundleAfterLogin(listed bool) {
	if listed && b.omemo.dir != "" {
		saved, err := os.ReadFile(filepath.Join(b.omemo.dir, omemoPublishedFileName))
		if err == nil && strings.TrimSpace(string(saved)) == b.omemo.bundle {
			return
		}
	}
	b.publishBundle()
}

// bundlePublished notes that the server confirmed the bundle of digest
// sent; a failure to write it costs a publication at the next login.
func (b *Bridge) bundlePublished(sent string) {
	if b.omemo.dir == "" || sent == "" {
		return
	}
	path := filepath.Join(b.omemo.dir, omemoPublishedFileName)
	if err := writeFileAtomic(path, []byte(sent+"\n")); err != nil {
		b.log.Info("the published OMEMO bundle's digest was not saved", "path", path, "err", err)
	}
}
