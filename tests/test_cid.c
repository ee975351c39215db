/* Tests of CID parsing and formatting: public vectors (the multiformats/multibase test CSVs,
 * multiformats/multihash tests/values/test_cases.csv, ipfs/go-cid cid_test.go), the same CID in
 * every multibase we accept, v0/v1 facts, round trips, every rejection reason, and speed. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ik_test.h"
#include "ipfskit/cid.h"
#include "ipfskit/client.h"
#include "store/cid_internal.h"

#define V0 "QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n"
#define V0_AS_V1 "bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
/* sha2-256 of the empty string: the digest inside V0 */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static size_t unhex(const char *h, uint8_t *out)
{
    size_t n = strlen(h) / 2, i;
    for (i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static int parse(const char *s, struct ik_cid *c, struct ik_error *err)
{
    return ik_cid_parse(s, strlen(s), c, err);
}

/* ---- public vectors ------------------------------------------------------------------- */

TEST(test_cid_v0_decodes_to_sha256_dag_pb)
{
    struct ik_cid c;
    struct ik_error err;
    uint8_t digest[32];
    ASSERT_OK(parse(V0, &c, &err), &err);
    ASSERT_EQ(c.version, 0);
    ASSERT_EQ(c.multibase, 0);
    ASSERT_EQ(c.codec, 0x70);
    ASSERT_EQ(c.hash_fn, 0x12);
    ASSERT_EQ(c.digest_len, 32);
    ASSERT_EQ(c.digest_off, 2);
    ASSERT_EQ(c.binary_len, 34);
    ASSERT_EQ(c.binary[0], 0x12);
    ASSERT_EQ(c.binary[1], 0x20);
    unhex(EMPTY_SHA256, digest);
    ASSERT_MEM_EQ(c.binary + 2, digest, 32);
    ASSERT_STR_EQ(ik_cid_codec_name(c.codec), "dag-pb");
}

TEST(test_cid_v0_formats_to_the_same_text)
{
    struct ik_cid c;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 1];
    ASSERT_OK(parse(V0, &c, &err), &err);
    ASSERT_EQ(ik_cid_format(&c, text, sizeof text), 46);
    ASSERT_STR_EQ(text, V0);
}

TEST(test_cid_v0_of_a_digest_equals_the_parsed_one)
{
    struct ik_cid made, parsed;
    struct ik_error err;
    uint8_t digest[32];
    char text[IK_CID_MAX_TEXT + 1];
    unhex(EMPTY_SHA256, digest);
    memset(&made, 0xa5, sizeof made); /* every field must be set, none left over */
    ik_cid_v0(digest, &made);
    ASSERT_OK(parse(V0, &parsed, &err), &err);
    ASSERT_EQ(made.version, parsed.version);
    ASSERT_EQ(made.multibase, parsed.multibase);
    ASSERT_EQ(made.codec, parsed.codec);
    ASSERT_EQ(made.hash_fn, parsed.hash_fn);
    ASSERT_EQ(made.digest_len, parsed.digest_len);
    ASSERT_EQ(made.digest_off, parsed.digest_off);
    ASSERT_EQ(made.binary_len, parsed.binary_len);
    ASSERT_MEM_EQ(made.binary, parsed.binary, 34);
    ASSERT_EQ(ik_cid_format(&made, text, sizeof text), 46);
    ASSERT_STR_EQ(text, V0);
}

TEST(test_cid_v1_of_v0_carries_the_same_multihash)
{
    struct ik_cid v0, v1;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 1];
    ASSERT_OK(parse(V0, &v0, &err), &err);
    ASSERT_OK(parse(V0_AS_V1, &v1, &err), &err);
    ASSERT_EQ(v1.version, 1);
    ASSERT_EQ(v1.multibase, 'b');
    ASSERT_EQ(v1.codec, 0x70);
    ASSERT_EQ(v1.hash_fn, 0x12);
    ASSERT_EQ(v1.digest_len, 32);
    ASSERT_EQ(v1.digest_off, 4);
    ASSERT_EQ(v1.binary_len, 36);
    ASSERT_EQ(v1.binary[0], 0x01);
    ASSERT_EQ(v1.binary[1], 0x70);
    ASSERT_MEM_EQ(v1.binary + 2, v0.binary, 34);
    ASSERT_EQ(ik_cid_format(&v1, text, sizeof text), strlen(V0_AS_V1));
    ASSERT_STR_EQ(text, V0_AS_V1);
}

/* go-cid TestHexDecode / ExampleDecode (old and new String() of the same CID) */
TEST(test_cid_go_cid_hex_vector_formats_as_base32)
{
    struct ik_cid hex, b58, b32;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 1];
    ASSERT_OK(parse("f015512209d8453505bdc6f269678e16b3e56c2a2948a41f2c792617cc9611ed363c95b63",
                    &hex, &err),
              &err);
    ASSERT_OK(parse("zb2rhhFAEMepUBbGyP1k8tGfz7BSciKXP6GHuUeUsJBaK6cqG", &b58, &err), &err);
    ASSERT_OK(parse("bafkreie5qrjvaw64n4tjm6hbnm7fnqvcssfed4whsjqxzslbd3jwhsk3mm", &b32, &err),
              &err);
    ASSERT_EQ(hex.codec, 0x55);
    ASSERT_STR_EQ(ik_cid_codec_name(hex.codec), "raw");
    ASSERT_EQ(hex.multibase, 'f');
    ASSERT_EQ(b58.multibase, 'z');
    ASSERT_EQ(hex.binary_len, 36);
    ASSERT_EQ(b58.binary_len, 36);
    ASSERT_EQ(b32.binary_len, 36);
    ASSERT_MEM_EQ(hex.binary, b58.binary, 36);
    ASSERT_MEM_EQ(hex.binary, b32.binary, 36);
    ik_cid_format(&hex, text, sizeof text);
    ASSERT_STR_EQ(text, "bafkreie5qrjvaw64n4tjm6hbnm7fnqvcssfed4whsjqxzslbd3jwhsk3mm");
}

/* The V0_AS_V1 CID in every multibase we accept, upper and lower case. */
TEST(test_cid_same_cid_in_every_multibase_has_one_binary)
{
    static const char *texts[] = {
        V0_AS_V1,
        "BAFYBEIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",
        "zdj7Wkkhxcu2rsiN6GUyHCLsSLL47kdUNfjbFqBUUhMFTZKBi",
        "k2jmtxx1epa2wl096hsbpuhrz9xhppklonehzwkmskc9rmeb51kwn4ut",
        "K2JMTXX1EPA2WL096HSBPUHRZ9XHPPKLONEHZWKMSKC9RMEB51KWN4UT",
        "f01701220" EMPTY_SHA256,
        "F01701220E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
    };
    struct ik_cid ref, c;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 1];
    size_t i;
    ASSERT_OK(parse(V0_AS_V1, &ref, &err), &err);
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ASSERT_OK(parse(texts[i], &c, &err), &err);
        ASSERT_EQ(c.multibase, texts[i][0]);
        ASSERT_EQ(c.binary_len, ref.binary_len);
        ASSERT_MEM_EQ(c.binary, ref.binary, ref.binary_len);
        ASSERT_EQ(c.codec, 0x70);
        ASSERT_EQ(c.digest_off, 4);
        ASSERT_TRUE(ik_cid_format(&c, text, sizeof text) > 0);
        ASSERT_STR_EQ(text, V0_AS_V1);
    }
}

/* A libp2p-key CIDv1 in base36 (an IPNS name) with an identity multihash. */
TEST(test_cid_base36_libp2p_key_with_identity_hash)
{
    struct ik_cid c, again;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 1];
    uint8_t want[64];
    size_t n = unhex("0172002408011220e4680b2f8c8d21090e6aa327f1bb342ab8e7d9238f1e35831a54d6a8f5c9"
                     "1124",
                     want);
    ASSERT_OK(parse("k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8", &c, &err),
              &err);
    ASSERT_EQ(c.codec, 0x72);
    ASSERT_STR_EQ(ik_cid_codec_name(c.codec), "libp2p-key");
    ASSERT_EQ(c.hash_fn, 0x00);
    ASSERT_EQ(c.digest_len, 36);
    ASSERT_EQ(c.binary_len, n);
    ASSERT_MEM_EQ(c.binary, want, n);
    ASSERT_TRUE(ik_cid_format(&c, text, sizeof text) > 0);
    ASSERT_EQ(text[0], 'b');
    ASSERT_OK(parse(text, &again, &err), &err);
    ASSERT_MEM_EQ(again.binary, want, n);
}

struct mb_vector {
    const char *text;
    const char *bytes;
    size_t len;
};

/* multiformats/multibase tests: test1.csv, leading_zero.csv, two_leading_zeros.csv and
 * case_insensitivity.csv, for the bases CIDs use. */
TEST(test_cid_multibase_spec_vectors_decode)
{
    static const struct mb_vector v[] = {
        {"f446563656e7472616c697a652065766572797468696e672121", "Decentralize everything!!", 25},
        {"F446563656E7472616C697A652065766572797468696E672121", "Decentralize everything!!", 25},
        {"birswgzloorzgc3djpjssazlwmvzhs5dinfxgoijb", "Decentralize everything!!", 25},
        {"BIRSWGZLOORZGC3DJPJSSAZLWMVZHS5DINFXGOIJB", "Decentralize everything!!", 25},
        {"k343ixo7d49hqj1ium15pgy1wzww5fxrid21td7l", "Decentralize everything!!", 25},
        {"K343IXO7D49HQJ1IUM15PGY1WZWW5FXRID21TD7L", "Decentralize everything!!", 25},
        {"zUXE7GvtEk8XTXs1GF8HSGbVA9FCX9SEBPe", "Decentralize everything!!", 25},
        {"f00796573206d616e692021", "\0yes mani !", 11},
        {"bab4wk4zanvqw42jaee", "\0yes mani !", 11},
        {"BAB4WK4ZANVQW42JAEE", "\0yes mani !", 11},
        {"k02lcpzo5yikidynfl", "\0yes mani !", 11},
        {"K02LCPZO5YIKIDYNFL", "\0yes mani !", 11},
        {"z17paNL19xttacUY", "\0yes mani !", 11},
        {"f0000796573206d616e692021", "\0\0yes mani !", 12},
        {"baaahszltebwwc3tjeaqq", "\0\0yes mani !", 12},
        {"k002lcpzo5yikidynfl", "\0\0yes mani !", 12},
        {"z117paNL19xttacUY", "\0\0yes mani !", 12},
        /* case_insensitivity.csv (the file's header says "yes mani !"; the data is this) */
        {"f68656c6c6f20776F726C64", "hello world", 11},
        {"F68656c6c6f20776F726C64", "hello world", 11},
        {"bnbswy3dpeB3W64TMMQ", "hello world", 11},
        {"Bnbswy3dpeB3W64TMMQ", "hello world", 11},
        {"kfUvrsIvVnfRbjWaJo", "hello world", 11},
        {"KfUVrSIVVnFRbJWAJo", "hello world", 11},
    };
    struct ik_error err;
    uint8_t out[64];
    size_t i, n;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        memset(out, 0xee, sizeof out);
        ASSERT_OK(ik__multibase_decode(v[i].text, strlen(v[i].text), out, sizeof out, &n, &err),
                  &err);
        if (n != v[i].len || memcmp(out, v[i].bytes, n) != 0) {
            ik_test_fail(__FILE__, __LINE__, "%s decoded to %zu bytes, wanted %zu", v[i].text, n,
                         v[i].len);
            return;
        }
    }
}

/* multiformats/multibase tests: test1.csv ("Decentralize everything!!"), leading_zero.csv
 * ("\x00yes mani !") and two_leading_zeros.csv ("\x00\x00yes mani !"), every encoding of each
 * but proquint, base45 and base256emoji (named as unsupported instead). */
TEST(test_cid_multibase_spec_vectors_of_every_base)
{
    static const struct {
        const char *plain;
        size_t plain_len;
        const char *text[21];
    } files[] = {
        {"Decentralize everything!!",
         25,
         {"00010001000110010101100011011001010110111001110100011100100110000101101100011010010111"
          "10100110010100100000011001010111011001100101011100100111100101110100011010000110100101"
          "101110011001110010000100100001",
          "71043126154533472162302661513646244031273145344745643206455631620441",
          "9429328951066508984658627669258025763026247056774804621697313",
          "f446563656e7472616c697a652065766572797468696e672121",
          "F446563656E7472616C697A652065766572797468696E672121",
          "birswgzloorzgc3djpjssazlwmvzhs5dinfxgoijb",
          "BIRSWGZLOORZGC3DJPJSSAZLWMVZHS5DINFXGOIJB",
          "v8him6pbeehp62r39f9ii0pbmclp7it38d5n6e891",
          "V8HIM6PBEEHP62R39F9II0PBMCLP7IT38D5N6E891",
          "cirswgzloorzgc3djpjssazlwmvzhs5dinfxgoijb",
          "CIRSWGZLOORZGC3DJPJSSAZLWMVZHS5DINFXGOIJB",
          "t8him6pbeehp62r39f9ii0pbmclp7it38d5n6e891",
          "T8HIM6PBEEHP62R39F9II0PBMCLP7IT38D5N6E891",
          "het1sg3mqqt3gn5djxj11y3msci3817depfzgqejb",
          "k343ixo7d49hqj1ium15pgy1wzww5fxrid21td7l",
          "K343IXO7D49HQJ1IUM15PGY1WZWW5FXRID21TD7L",
          "Ztwe7gVTeK8wswS1gf8hrgAua9fcw9reboD",
          "zUXE7GvtEk8XTXs1GF8HSGbVA9FCX9SEBPe",
          "mRGVjZW50cmFsaXplIGV2ZXJ5dGhpbmchIQ",
          "MRGVjZW50cmFsaXplIGV2ZXJ5dGhpbmchIQ==",
          "uRGVjZW50cmFsaXplIGV2ZXJ5dGhpbmchIQ"}},
        {"\0yes mani !",
         11,
         {"0000000000111100101100101011100110010000001101101011000010110111001101001001000000010000"
          "1",
          "7000171312714403326055632220041",
          "90573277761329450583662625",
          "f00796573206d616e692021",
          "F00796573206D616E692021",
          "bab4wk4zanvqw42jaee",
          "BAB4WK4ZANVQW42JAEE",
          "v01smasp0dlgmsq9044",
          "V01SMASP0DLGMSQ9044",
          "cab4wk4zanvqw42jaee======",
          "CAB4WK4ZANVQW42JAEE======",
          "t01smasp0dlgmsq9044======",
          "T01SMASP0DLGMSQ9044======",
          "hybhskh3ypiosh4jyrr",
          "k02lcpzo5yikidynfl",
          "K02LCPZO5YIKIDYNFL",
          "Z17Pznk19XTTzBtx",
          "z17paNL19xttacUY",
          "mAHllcyBtYW5pICE",
          "MAHllcyBtYW5pICE=",
          "UAHllcyBtYW5pICE="}},
        {"\0\0yes mani !",
         12,
         {"0000000000000000001111001011001010111001100100000011011010110000101101110011010010010000"
          "000100001",
          "700000171312714403326055632220041",
          "900573277761329450583662625",
          "f0000796573206d616e692021",
          "F0000796573206D616E692021",
          "baaahszltebwwc3tjeaqq",
          "BAAAHSZLTEBWWC3TJEAQQ",
          "v0007ipbj41mm2rj940gg",
          "V0007IPBJ41MM2RJ940GG",
          "caaahszltebwwc3tjeaqq====",
          "CAAAHSZLTEBWWC3TJEAQQ====",
          "t0007ipbj41mm2rj940gg====",
          "T0007IPBJ41MM2RJ940GG====",
          "hyyy813murbssn5ujryoo",
          "k002lcpzo5yikidynfl",
          "K002LCPZO5YIKIDYNFL",
          "Z117Pznk19XTTzBtx",
          "z117paNL19xttacUY",
          "mAAB5ZXMgbWFuaSAh",
          "MAAB5ZXMgbWFuaSAh",
          "UAAB5ZXMgbWFuaSAh"}},
    };
    struct ik_error err;
    uint8_t out[64];
    size_t f, i, n;
    for (f = 0; f < sizeof files / sizeof files[0]; f++)
        for (i = 0; i < 21; i++) {
            const char *t = files[f].text[i];
            err.message[0] = 0;
            if (ik__multibase_decode(t, strlen(t), out, sizeof out, &n, &err) != 0 ||
                n != files[f].plain_len || memcmp(out, files[f].plain, n) != 0) {
                ik_test_fail(__FILE__, __LINE__, "\"%s\": %s (%zu bytes)", t, err.message, n);
                return;
            }
        }
    ASSERT_FAILS(ik__multibase_decode("pro-babab-lojoj-lasob-kujod-kunon-fabod", 39, out,
                                      sizeof out, &n, &err),
                 IK_EFORMAT, &err, "unsupported multibase 'p' (proquint)");
    ASSERT_FAILS(ik__multibase_decode("R000RFF.OEB$D5/DZ24", 19, out, sizeof out, &n, &err),
                 IK_EFORMAT, &err, "(base45)");
    ASSERT_FAILS(
        ik__multibase_decode("\xf0\x9f\x9a\x80\xf0\x9f\x9a\x80", 8, out, sizeof out, &n, &err),
        IK_EFORMAT, &err, "(base256emoji)");
    ASSERT_FAILS(
        ik__multibase_decode("k343ixo7d49hqj1ium15pgy1wzww5fxrid21td7l", 40, out, 24, &n, &err),
        IK_EFORMAT, &err, "base36 text decodes to more than 24 bytes");
}

/* Damage each new base in the ways its rules forbid. */
TEST(test_cid_multibase_rejects_bad_text_in_the_other_bases)
{
    static const struct {
        const char *text, *why;
    } v[] = {
        {"mRGVjZW50cmFsaXplIGV2ZXJ5dGhpbmchIQ==", "invalid base64 character '=' at 35"},
        {"MRGVjZW50cmFsaXplIGV2ZXJ5dGhpbmchIQ=", "base64pad text of 35 characters is not padded"},
        {"mRGVjZW50cmFsaXplIGV2ZXJ5dGhpbmchIR", "base64 text has non-zero padding bits"},
        {"mRGVjZ", "base64 text of 5 characters is truncated"},
        {"uRGVjZW50cmFsaXplIGV2ZXJ5dGhpbmchI/", "invalid base64url character '/' at 34"},
        {"02", "invalid base2 character '2' at 1"},
        {"0100000000", "base2 text has non-zero leading bits"},
        {"78", "invalid base8 character '8' at 1"},
        {"7400", "base8 text has non-zero leading bits"},
        {"9x", "invalid base10 character 'x' at 1"},
        {"Z0", "invalid base58flickr character '0' at 1"},
        {"hl", "invalid base32z character 'l' at 1"},
        {"v8him6pbeehp62r39f9ii0pbmclp7it38d5n6e89w", "invalid base32hex character 'w' at 40"},
    };
    struct ik_error err;
    uint8_t out[64];
    size_t i, n;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        err.message[0] = 0;
        if (ik__multibase_decode(v[i].text, strlen(v[i].text), out, sizeof out, &n, &err) !=
                IK_EFORMAT ||
            strstr(err.message, v[i].why) == NULL) {
            ik_test_fail(__FILE__, __LINE__, "\"%s\": got \"%s\", wanted \"%s\"", v[i].text,
                         err.message, v[i].why);
            return;
        }
    }
}

/* The V0_AS_V1 CID in the bases added for issue 13 (computed from its binary), and
 * js-multiformats' base64 form of the dag-pb CIDv1 of sha2-256("abc"): each has one canonical
 * text, lower-case base32. */
TEST(test_cid_canonical_text_of_every_multibase)
{
    static const char *texts[] = {
        "00000000101110000000100100010000011100011101100001100010001000010100110001111110000011"
        "10000010100100110101111101111110100110010001001100101101111101110010010010000100111101"
        "01110010000011110010001100100100110111001001101001100101001001001010110011001000110110"
        "1111000010100101011100001010101",
        "7002700221016166061041230770160244657576462114557562220475344074431115623231222254621557"
        "024534125",
        "92793123910855882936147588889964461062772221793666199782214658415568868628019681605717",
        "cafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku======",
        "CAFYBEIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU======",
        "v05o14873m324567s3ga9luvkp2cmve944un43p34je9kp94lj4dngkloak",
        "V05O14873M324567S3GA9LUVKP2CMVE944UN43P34JE9KP94LJ4DNGKLOAK",
        "t05o14873m324567s3ga9luvkp2cmve944un43p34je9kp94lj4dngkloak======",
        "T05O14873M324567S3GA9LUVKP2CMVE944UN43P34JE9KP94LJ4DNGKLOAK======",
        "hyfabre8dsdnrfg8hdokji69w3ncs9qjrr6zrd3druqjw3jriurpzowiakw",
        "ZCJ7vKKGXBU2RSHn6gtYhckSrkk47KCtnEJAfQbttGmfsyjbH",
        "mAXASIOOwxEKY/BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV",
        "MAXASIOOwxEKY/BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV",
        "uAXASIOOwxEKY_BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV",
        "UAXASIOOwxEKY_BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV",
        "BAFYBEIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",
        "bAFYBEIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",
        "K2JMTXX1EPA2WL096HSBPUHRZ9XHPPKLONEHZWKMSKC9RMEB51KWN4UT",
        "F01701220E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        V0_AS_V1,
    };
    char text[IK_CID_MAX_TEXT + 1];
    size_t i;
    for (i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        size_t n = ik_cid_canonical(texts[i], strlen(texts[i]), text, sizeof text);
        if (n != strlen(V0_AS_V1) || strcmp(text, V0_AS_V1) != 0) {
            ik_test_fail(__FILE__, __LINE__, "\"%s\": canonical \"%s\"", texts[i], text);
            return;
        }
    }
    ASSERT_EQ(ik_cid_canonical("mAXASILp4Fr+PAc/qQUFA3l2uIiOwA2Gjlhd6nLQQ/2HyABWt", 49, text,
                               sizeof text),
              59);
    ASSERT_STR_EQ(text, "bafybeif2pall7dybz7vecqka3zo24irdwabwdi4wc55jznaq75q7eaavvu");
    ASSERT_EQ(ik_cid_canonical(V0, 46, text, sizeof text), 46);
    ASSERT_STR_EQ(text, V0);
    ASSERT_EQ(ik_cid_canonical(V0, 46, text, 46), 0); /* no room for the NUL */
    ASSERT_EQ(ik_cid_canonical("Qm123", 5, text, sizeof text), 0);
    ASSERT_EQ(ik_cid_canonical("B", 1, text, sizeof text), 0);
}

struct mh_vector {
    uint64_t fn;
    const char *hex;
};

/* multiformats/multihash tests/values/test_cases.csv, each wrapped as a raw CIDv1. */
TEST(test_cid_multihash_spec_vectors_as_raw_cids)
{
    static const struct mh_vector v[] = {
        {0x11, "110ada39a3ee5e6b4b0d3255"},
        {0x11, "1114da39a3ee5e6b4b0d3255bfef95601890afd80709"},
        {0x12, "1220e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {0x13, "130acf83e1357eefb8bdf154"},
        {0x13, "1340cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b"
               "0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
        {0x14, "1414a69f73cca23a9ac5c8b567dc185a756e97c98216"},
        {0x14, "1440a69f73cca23a9ac5c8b567dc185a756e97c982164fe25859e0d1dcc1475c80a615b2123af1f5f9"
               "4c11e3e9402c3ac558f500199d95b6d3e301758586281dcd26"},
    };
    struct ik_cid c, again;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 1], in[300];
    uint8_t mh[100];
    size_t i, n;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        n = unhex(v[i].hex, mh);
        snprintf(in, sizeof in, "f0155%s", v[i].hex);
        ASSERT_OK(parse(in, &c, &err), &err);
        ASSERT_EQ(c.hash_fn, v[i].fn);
        ASSERT_EQ(c.digest_len, n - 2);
        ASSERT_EQ(c.digest_off, 4);
        ASSERT_MEM_EQ(c.binary + 2, mh, n);
        ASSERT_TRUE(ik_cid_format(&c, text, sizeof text) > 0);
        ASSERT_OK(parse(text, &again, &err), &err);
        ASSERT_EQ(again.binary_len, c.binary_len);
        ASSERT_MEM_EQ(again.binary, c.binary, c.binary_len);
    }
}

/* The multihash test cases also truncate sha2-256; a CID's sha2-256 digest must be whole. */
TEST(test_cid_rejects_truncated_sha256_from_multihash_vectors)
{
    struct ik_cid c;
    struct ik_error err;
    ASSERT_FAILS(parse("f0155120ae3b0c44298fc1c149afb", &c, &err), IK_EFORMAT, &err,
                 "sha2-256 digest must be 32 bytes, not 10");
    ASSERT_FAILS(parse("f01551214e3b0c44298fc1c149afbf4c8996fb92427ae41e4", &c, &err), IK_EFORMAT,
                 &err, "sha2-256 digest must be 32 bytes, not 20");
}

/* ---- round trips ---------------------------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* Random v1 CIDs (random codec varint, sha2-256 or identity of random length) survive
 * format -> parse; random v0 digests too, including leading zero bytes. */
TEST(test_cid_random_cids_round_trip_through_text)
{
    struct ik_error err;
    int i;
    for (i = 0; i < 2000; i++) {
        struct ik_cid c, back;
        char text[IK_CID_MAX_TEXT + 1];
        size_t n = 0, k, dlen;
        uint64_t codec = rng() >> (rng() % 64) >> 1;
        memset(&c, 0, sizeof c);
        if (i % 2 == 0) {
            c.version = 0;
            c.binary[n++] = 0x12;
            c.binary[n++] = 0x20;
            dlen = 32;
        } else {
            c.version = 1;
            c.binary[n++] = 1;
            do {
                c.binary[n++] = (uint8_t)((codec & 0x7f) | (codec > 0x7f ? 0x80 : 0));
                codec >>= 7;
            } while (c.binary[n - 1] & 0x80);
            dlen = i % 3 == 0 ? 32 : rng() % 129;
            c.binary[n++] = i % 3 == 0 ? 0x12 : 0x00;
            if (dlen > 127) {
                c.binary[n++] = (uint8_t)(0x80 | (dlen & 0x7f));
                c.binary[n++] = (uint8_t)(dlen >> 7);
            } else {
                c.binary[n++] = (uint8_t)dlen;
            }
        }
        for (k = 0; k < dlen; k++)
            c.binary[n++] = (uint8_t)(i % 5 == 0 && k < 3 ? 0 : rng());
        c.binary_len = (uint32_t)n;
        ASSERT_TRUE(ik_cid_format(&c, text, sizeof text) > 0);
        ASSERT_OK(parse(text, &back, &err), &err);
        ASSERT_EQ(back.version, c.version);
        ASSERT_EQ(back.binary_len, n);
        ASSERT_MEM_EQ(back.binary, c.binary, n);
        ASSERT_EQ(back.digest_len, dlen);
        ASSERT_EQ(back.digest_off, n - dlen);
    }
}

TEST(test_cid_identity_digest_up_to_128_bytes_is_accepted)
{
    struct ik_cid c;
    struct ik_error err;
    ASSERT_OK(parse("bafkqbaabaaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypsaijcemsckjrhfau"
                    "sukzmfuxc6mbrgiztinjwg44dsor3hq6t4p2aifbegrcfizduqskkjnge2tspkbiveu2ukvlfowczl"
                    "jnvyxk6l5qgcytdmrswmz3infvgw3dnnzxxa4lson2hk5txpb4xu634pv7h6",
                    &c, &err),
              &err);
    ASSERT_EQ(c.hash_fn, 0);
    ASSERT_EQ(c.digest_len, 128);
    ASSERT_EQ(c.digest_off, 5);
    ASSERT_EQ(c.binary[5 + 127], 127);
}

TEST(test_cid_format_needs_room_for_the_nul)
{
    struct ik_cid c;
    struct ik_error err;
    char text[64];
    ASSERT_OK(parse(V0, &c, &err), &err);
    ASSERT_EQ(ik_cid_format(&c, text, 46), 0);
    ASSERT_EQ(ik_cid_format(&c, text, 47), 46);
    ASSERT_OK(parse(V0_AS_V1, &c, &err), &err);
    ASSERT_EQ(ik_cid_format(&c, text, 59), 0);
    ASSERT_EQ(ik_cid_format(&c, text, 1), 0);
    ASSERT_EQ(ik_cid_format(&c, text, 60), 59);
    ASSERT_STR_EQ(text, V0_AS_V1);
}

TEST(test_cid_valid_answers_one_or_zero)
{
    struct ik_error err;
    ASSERT_EQ(ik_cid_valid(V0, &err), 1);
    ASSERT_EQ(ik_cid_valid(V0_AS_V1, &err), 1);
    ASSERT_EQ(ik_cid_valid(V0 " ", &err), 0);
    ASSERT_TRUE(strstr(err.message, "46 characters") != NULL);
    ASSERT_EQ(ik_cid_valid("", NULL), 0);
}

TEST(test_cid_codec_names)
{
    ASSERT_STR_EQ(ik_cid_codec_name(0x70), "dag-pb");
    ASSERT_STR_EQ(ik_cid_codec_name(0x55), "raw");
    ASSERT_STR_EQ(ik_cid_codec_name(0x71), "dag-cbor");
    ASSERT_STR_EQ(ik_cid_codec_name(0x72), "libp2p-key");
    ASSERT_STR_EQ(ik_cid_codec_name(0x0129), "dag-json");
    ASSERT_STR_EQ(ik_cid_codec_name(0x85), "dag-jose");
    ASSERT_STR_EQ(ik_cid_codec_name(0x0200), "json");
    ASSERT_TRUE(ik_cid_codec_name(0x12) == NULL);
    ASSERT_TRUE(ik_cid_codec_name(UINT64_MAX) == NULL);
}

/* ---- rejections ----------------------------------------------------------------------- */

struct bad {
    const char *text;
    const char *why;
};

TEST(test_cid_rejects_each_malformed_text_with_its_reason)
{
    static const struct bad v[] = {
        {"", "empty CID"},
        {"x" V0_AS_V1, "bad multibase prefix 'x'"},
        {" " V0, "bad multibase prefix ' '"},
        {"\x01"
         "afy",
         "bad multibase prefix '\\x01'"},
        {"mAXASIOOwxEKY_BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV", "invalid base64 character '_' at 13"},
        {"pro-babab", "unsupported multibase 'p' (proquint)"},
        /* CIDv0 */
        {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1", "CIDv0 must be 46 characters, not 45"},
        {V0 "\n", "CIDv0 must be 46 characters, not 47"},
        {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zIII", "invalid base58 character 'I' at 43"},
        {"Qm0fTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n", "invalid base58 character '0' at 2"},
        {"QmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1\xc3",
         "invalid base58 character '\\xc3' at 45"},
        {"QmfZy5bvk7a3DQAjCbGNtmrPXWkyVvPrdnZMyBZ5q5ieKH", "CIDv0 must be a sha2-256 multihash"},
        /* multibase payloads */
        {"b", "empty CID after multibase prefix 'b'"},
        {"bafyb1ihdwdcefgh", "invalid base32 character '1' at 5"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyk=", "invalid base32 character"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykua",
         "base32 text of 59 characters is truncated"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykv",
         "base32 text has non-zero padding bits at 58"},
        {"f0170122", "odd number of base16 digits (7)"},
        {"f01701g", "invalid base16 character 'g' at 6"},
        {"k2jmtxx1epa2wl096hsbpuhrz9xhppklonehzwkmskc9rmeb51kwn4u!",
         "invalid base36 character '!'"},
        {"zdj7Wkkhxcu2rsiN6GUyHCLsSLL47kdUNfjbFqBUUhMFTZKBl", "invalid base58 character 'l' at 48"},
        /* binary structure */
        {"zQmdfTbBqBPQ7VNxZEYEj14VmRuZBkqFbiwReogJgS1zR1n",
         "CIDv0 must not carry a multibase prefix"},
        {"bajybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
         "unsupported CID version 2"},
        {"babybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku",
         "unsupported CID version 0"},
        {"f01", "truncated varint (codec) at byte 1"},
        {"f0180", "truncated varint (codec) at byte 1"},
        {"f0170", "truncated varint (hash function) at byte 2"},
        {"f017012", "truncated varint (digest length) at byte 3"},
        {"f0180001220" EMPTY_SHA256, "non-minimal varint (codec) at byte 1"},
        {"f8100", "non-minimal varint (version) at byte 0"},
        {"f01ffffffffffffffffff01", "varint (codec) at byte 1 is longer than 9 bytes"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvy",
         "multihash length 31, digest says 32"},
        {"bafybeihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvykuaa",
         "trailing bytes after multihash (1 after a 32-byte digest)"},
        {"bafkrefhdwdcefgh4dqkjv67uzcmw7ojee6xedza", "sha2-256 digest must be 32 bytes, not 20"},
        {"bafkqbaibaaaqeayeaudaocajbifqydiob4ibceqtcqkrmfyydenbwha5dypsaijcemsckjrhfausukzmfuxc6mbr"
         "giztinjwg44dsor3hq6t4p2aifbegrcfizduqskkjnge2tspkbiveu2ukvlfowczljnvyxk6l5qgcytdmrswmz3in"
         "fvgw3dnnzxxa4lson2hk5txpb4xu634pv7h7aa",
         "identity digest of 129 bytes exceeds 128"},
    };
    struct ik_cid c;
    struct ik_error err;
    size_t i;
    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        err.message[0] = 0;
        if (parse(v[i].text, &c, &err) != IK_EFORMAT || strstr(err.message, v[i].why) == NULL) {
            ik_test_fail(__FILE__, __LINE__, "\"%s\": got \"%s\", wanted \"%s\"", v[i].text,
                         err.message, v[i].why);
            return;
        }
    }
}

TEST(test_cid_rejects_text_and_binary_past_the_limits)
{
    struct ik_cid c;
    struct ik_error err;
    char text[IK_CID_MAX_TEXT + 2];
    memset(text, 'a', sizeof text);
    text[0] = 'b';
    ASSERT_FAILS(ik_cid_parse(text, IK_CID_MAX_TEXT + 1, &c, &err), IK_EFORMAT, &err,
                 "CID text of 513 characters exceeds 512");
    /* 512 base32 characters hold 320 bytes, more than a binary CID may have */
    ASSERT_FAILS(ik_cid_parse(text, IK_CID_MAX_TEXT, &c, &err), IK_EFORMAT, &err,
                 "base32 text decodes to more than 256 bytes");
    memset(text, 'z', sizeof text);
    ASSERT_FAILS(ik_cid_parse(text, 400, &c, &err), IK_EFORMAT, &err,
                 "base58 text decodes to more than 256 bytes");
    memset(text, 'f', sizeof text);
    ASSERT_FAILS(ik_cid_parse(text, IK_CID_MAX_TEXT - 1, &c, &err), IK_EFORMAT, &err,
                 "varint (version) at byte 0 is longer than 9 bytes");
    ASSERT_FAILS(ik_cid_parse(text, IK_CID_MAX_TEXT, &c, &err), IK_EFORMAT, &err,
                 "odd number of base16 digits");
}

/* A NUL inside the given length is a character like any other, not an end. */
TEST(test_cid_rejects_embedded_nul)
{
    struct ik_cid c;
    struct ik_error err;
    char text[] = V0_AS_V1;
    text[10] = 0;
    ASSERT_FAILS(ik_cid_parse(text, sizeof text - 1, &c, &err), IK_EFORMAT, &err,
                 "invalid base32 character '\\x00' at 10");
}

/* A query's cid filters: canonical texts (and non-CIDs) are left as they are without being
 * decoded; other forms of a CID are rewritten to the canonical one, whatever the decode path. */
TEST(test_query_cid_filters_rewrite_only_other_forms)
{
    static const char *canonical[] = {V0, V0_AS_V1, "Qm123", "not a cid", "bafy-not-a-cid"};
    static const char *other[] = {"BAFYBEIHDWDCEFGH4DQKJV67UZCMW7OJEE6XEDZDETOJUZJEVTENXQUVYKU",
                                  "ZCJ7vKKGXBU2RSHn6gtYhckSrkk47KCtnEJAfQbttGmfsyjbH",
                                  "uAXASIOOwxEKY_BwUmvv0yJlvuSQnrkHkZJuTTKSVmRt4UrhV"};
    struct ik_error err = {{0}};
    struct ik_query q;
    size_t i;
    for (i = 0; i < sizeof canonical / sizeof canonical[0]; i++) {
        ik_query_init(&q, "pin_index");
        ASSERT_EQ(ik_query_filter_str(&q, "cid", IK_OP_EQ, canonical[i], &err), 0);
        ASSERT_TRUE(!ik_query_has_other_cids(&q));
        ASSERT_EQ(ik_query_canonical_cids(&q, &err), 0);
        ASSERT_STR_EQ(q.preds[0].values[0].s, canonical[i]);
        ik_query_reset(&q);
    }
    for (i = 0; i < sizeof other / sizeof other[0]; i++) {
        ik_query_init(&q, "pin_index");
        ASSERT_EQ(ik_query_filter_str(&q, "cid", IK_OP_EQ, other[i], &err), 0);
        ASSERT_TRUE(ik_query_has_other_cids(&q));
        ASSERT_EQ(ik_query_canonical_cids(&q, &err), 0);
        ASSERT_STR_EQ(q.preds[0].values[0].s, V0_AS_V1);
        ASSERT_TRUE(!ik_query_has_other_cids(&q));
        ik_query_reset(&q);
    }
}
