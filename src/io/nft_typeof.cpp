#include "nft_typeof.hpp"

#include "nft_objects.hpp"

#include <memory>

namespace conenat::io::detail {

namespace {

// The numbers nft (1.0.6) gives its expressions and protocol headers, as its user data of a
// set stores them (nftables src/expression.h enum expr_types, src/proto.h enum proto_desc_id
// and the header field enums; concat and payload build_udata in src/expression.c, src/payload.c).
constexpr std::uint32_t kExprPayload = 7, kExprConcat = 13;
constexpr std::uint32_t kDescIcmp = 4, kDescTh = 11, kDescIp = 12;
// Attributes of the nests: the typeof (expression type, its data), a concatenation's field
// (type, data: also 1), a payload (header, field, the length of an integer field).
constexpr std::uint8_t kTypeofExpr = NFTNL_UDATA_SET_TYPEOF_EXPR, kTypeofData = NFTNL_UDATA_SET_TYPEOF_DATA;
constexpr std::uint8_t kSubType = 0; // its data: kTypeofData (1)
constexpr std::uint8_t kPayloadDesc = 0, kPayloadType = 1, kPayloadLen = 4;

struct PayloadId {
    const char* text;
    std::uint32_t desc, field;
    std::uint32_t integer_bits; // an integer field's length (nft writes it for those only)
};

PayloadId id_of(nft::Payload p) {
    switch (p) {
    case nft::Payload::IpSaddr: return {"ip saddr", kDescIp, 11, 0};
    case nft::Payload::IpDaddr: return {"ip daddr", kDescIp, 12, 0};
    case nft::Payload::IcmpId: return {"icmp id", kDescIcmp, 4, 16};
    case nft::Payload::ThDport: break;
    }
    return {"th dport", kDescTh, 2, 0};
}

// A payload field's data nest: header, field, and an integer field's length.
void put_payload(nftnl_udata_buf* buf, nft::Payload p) {
    const PayloadId id = id_of(p);
    nftnl_udata* data = nftnl_udata_nest_start(buf, kTypeofData); // == kSubData
    nftnl_udata_put_u32(buf, kPayloadDesc, id.desc);
    nftnl_udata_put_u32(buf, kPayloadType, id.field);
    if (id.integer_bits)
        nftnl_udata_put_u32(buf, kPayloadLen, id.integer_bits);
    nftnl_udata_nest_end(buf, data);
}

// One typeof nest, as nft's set_key_expression writes it: a payload field, or a concatenation
// of them.
void put_typeof(nftnl_udata_buf* buf, std::uint8_t attr, const std::vector<nft::Payload>& fields) {
    nftnl_udata* outer = nftnl_udata_nest_start(buf, attr);
    if (fields.size() == 1) {
        nftnl_udata_put_u32(buf, kTypeofExpr, kExprPayload);
        put_payload(buf, fields[0]);
        nftnl_udata_nest_end(buf, outer);
        return;
    }
    nftnl_udata_put_u32(buf, kTypeofExpr, kExprConcat);
    nftnl_udata* concat = nftnl_udata_nest_start(buf, kTypeofData);
    std::uint8_t i = 0;
    for (nft::Payload p : fields) {
        nftnl_udata* field = nftnl_udata_nest_start(buf, i++);
        nftnl_udata_put_u32(buf, kSubType, kExprPayload);
        put_payload(buf, p);
        nftnl_udata_nest_end(buf, field);
    }
    nftnl_udata_nest_end(buf, concat);
    nftnl_udata_nest_end(buf, outer);
}

} // namespace

std::string typeof_text(const std::vector<nft::Payload>& fields) {
    std::string s;
    for (nft::Payload p : fields)
        s += (s.empty() ? "" : " . ") + std::string(id_of(p).text);
    return s;
}

std::vector<std::uint8_t> raw_th_userdata(std::uint32_t offset_bits, std::uint32_t bits) {
    constexpr std::uint32_t kBigEndian = 2;        // nft's BYTEORDER_BIG_ENDIAN (src/datatype.h)
    constexpr std::uint32_t kBaseTransport = 3;    // PROTO_BASE_TRANSPORT_HDR (src/proto.h)
    constexpr std::uint8_t kPayloadBase = 2, kPayloadOffset = 3;
    NftnlPtr<nftnl_udata_buf> buf(nftnl_udata_buf_alloc(64));
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_KEYBYTEORDER, kBigEndian);
    // A raw payload: no header (desc 0, field 0), its base, offset and length.
    nftnl_udata* outer = nftnl_udata_nest_start(buf.get(), NFTNL_UDATA_SET_KEY_TYPEOF);
    nftnl_udata_put_u32(buf.get(), kTypeofExpr, kExprPayload);
    nftnl_udata* data = nftnl_udata_nest_start(buf.get(), kTypeofData);
    nftnl_udata_put_u32(buf.get(), kPayloadDesc, 0);
    nftnl_udata_put_u32(buf.get(), kPayloadType, 0);
    nftnl_udata_put_u32(buf.get(), kPayloadBase, kBaseTransport);
    nftnl_udata_put_u32(buf.get(), kPayloadOffset, offset_bits);
    nftnl_udata_put_u32(buf.get(), kPayloadLen, bits);
    nftnl_udata_nest_end(buf.get(), data);
    nftnl_udata_nest_end(buf.get(), outer);
    const auto* bytes = static_cast<const std::uint8_t*>(nftnl_udata_buf_data(buf.get()));
    return {bytes, bytes + nftnl_udata_buf_len(buf.get())};
}

std::vector<std::uint8_t> typeof_userdata(const std::vector<nft::Payload>& key, const std::vector<nft::Payload>& data) {
    if (key.empty())
        return {};
    NftnlPtr<nftnl_udata_buf> buf(nftnl_udata_buf_alloc(256)); // NFT_USERDATA_MAXLEN
    // The byte orders of a concatenation (none: 0) come first, as nft writes them.
    nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_KEYBYTEORDER, 0);
    if (!data.empty())
        nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATABYTEORDER, 0);
    put_typeof(buf.get(), NFTNL_UDATA_SET_KEY_TYPEOF, key);
    if (!data.empty()) {
        put_typeof(buf.get(), NFTNL_UDATA_SET_DATA_TYPEOF, data);
        nftnl_udata_put_u32(buf.get(), NFTNL_UDATA_SET_DATA_INTERVAL, 0);
    }
    const auto* bytes = static_cast<const std::uint8_t*>(nftnl_udata_buf_data(buf.get()));
    return {bytes, bytes + nftnl_udata_buf_len(buf.get())};
}

} // namespace conenat::io::detail
