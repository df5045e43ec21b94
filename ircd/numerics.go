package ircd

// Numerics gopkg.in/irc.v4 lacks or names after one particular server;
// the IRCv3 and modern-ircd ones the bridge needs are collected here so that
// handlers can use one import for all of them.
const (
	// ERR_INPUTTOOLONG is sent for a line longer than 512 bytes plus 8191
	// bytes of tags.
	ERR_INPUTTOOLONG = "417"
	// RPL_WHOISACCOUNT is "<nick> <target> <account> :is logged in as".
	RPL_WHOISACCOUNT = "330"
	// RPL_TOPICWHOTIME is "<nick> <channel> <setter> <unixtime>".
	RPL_TOPICWHOTIME = "333"
	// RPL_WHOISBOT is "<nick> <target> :is a bot".
	RPL_WHOISBOT = "335"
	// RPL_WHOISACTUALLY is "<nick> <target> <host|ip> :is actually using host".
	RPL_WHOISACTUALLY = "338"
	// RPL_WHOISHOST is "<nick> <target> :is connecting from ...".
	RPL_WHOISHOST = "378"
	// RPL_WHOISSPECIAL is "<nick> <target> :free text" (used for extra
	// WHOIS lines such as resources or groups).
	RPL_WHOISSPECIAL = "320"
	// RPL_CREATIONTIME is "<nick> <channel> <unixtime>".
	RPL_CREATIONTIME = "329"
	// RPL_WHOSPCRPL is the WHOX reply.
	RPL_WHOSPCRPL = "354"
	// RPL_LOCALUSERS and RPL_GLOBALUSERS complete LUSERS.
	RPL_LOCALUSERS  = "265"
	RPL_GLOBALUSERS = "266"
	// ERR_UNKNOWNERROR is the generic "something went wrong" reply.
	ERR_UNKNOWNERROR = "400"
	// ERR_INVALIDUSERNAME answers a USER whose username is malformed.
	ERR_INVALIDUSERNAME = "468"
	// ERR_INVALIDCAPCMD answers an unknown CAP subcommand.
	ERR_INVALIDCAPCMD = "410"

	// MONITOR numerics (IRCv3 monitor).
	RPL_MONONLINE    = "730"
	RPL_MONOFFLINE   = "731"
	RPL_MONLIST      = "732"
	RPL_ENDOFMONLIST = "733"
	ERR_MONLISTFULL  = "734"

	// SASL numerics (IRCv3 sasl-3.1).
	RPL_LOGGEDIN    = "900"
	RPL_LOGGEDOUT   = "901"
	ERR_NICKLOCKED  = "902"
	RPL_SASLSUCCESS = "903"
	ERR_SASLFAIL    = "904"
	ERR_SASLTOOLONG = "905"
	ERR_SASLABORTED = "906"
	ERR_SASLALREADY = "907"
	RPL_SASLMECHS   = "908"
)
