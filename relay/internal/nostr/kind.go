package nostr

// Kinds the relay gives a meaning to.
const (
	KindMetadata      = 0
	KindContacts      = 3
	KindDeletion      = 5
	KindChatMessage   = 9
	KindGiftWrap      = 1059
	KindAddMember     = 9000
	KindRemoveMember  = 9001
	KindCreateChannel = 9007
	KindJoinChannel   = 9021
	KindLeaveChannel  = 9022
	KindAuth          = 22242
)

// IsReplaceable reports NIP-01 replaceable kinds: newest per (pubkey, kind).
func IsReplaceable(k int) bool {
	return k == 0 || k == 3 || (k >= 10000 && k < 20000)
}

// IsEphemeral reports NIP-01 ephemeral kinds: never stored.
func IsEphemeral(k int) bool { return k >= 20000 && k < 30000 }

// IsAddressable reports NIP-01 addressable kinds: newest per (pubkey, kind, d).
func IsAddressable(k int) bool { return k >= 30000 && k < 40000 }

// IsChannelKind reports kinds that only make sense inside a channel and so
// must carry an h tag (spec §4).
func IsChannelKind(k int) bool {
	return k == KindChatMessage || (k >= 9000 && k <= 9022)
}
