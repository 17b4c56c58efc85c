import DNSAuth
import Testing

@Suite("Base64 secrets (RFC 4648 §4)")
struct Base64Tests {
    @Test(
        "the RFC 4648 §10 test vectors decode",
        arguments: [
            ("", ""), ("Zg==", "f"), ("Zm8=", "fo"), ("Zm9v", "foo"), ("Zm9vYg==", "foob"),
            ("Zm9vYmE=", "fooba"), ("Zm9vYmFy", "foobar"),
        ])
    func rfcVectorsDecode_RFC4648_10(text: String, expected: String) {
        #expect(decodeBase64(text) == Array(expected.utf8))
    }

    @Test("all 64 digits decode, and whitespace between them is skipped")
    func fullAlphabetAndWhitespace() {
        let text = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        let expected: [UInt8] = stride(from: 0, to: 64, by: 4).flatMap { (start: Int) -> [UInt8] in
            let group = (start << 18) | ((start + 1) << 12) | ((start + 2) << 6) | (start + 3)
            return [UInt8(group >> 16), UInt8(group >> 8 & 0xFF), UInt8(group & 0xFF)]
        }
        #expect(decodeBase64(text) == expected)
        #expect(decodeBase64(" Zm9v\n YmFy\t\r\n") == Array("foobar".utf8))
    }

    @Test(
        "malformed base64 is refused",
        arguments: [
            "Zg",  // missing padding
            "Zg=",  // short padding
            "Z===",  // too much padding
            "Zm9vY",  // dangling digit
            "Zg==Zm9v",  // data after padding
            "Zg=a",  // digit after padding
            "Zh==",  // non-zero unused bits (RFC 4648 §3.5)
            "Zm9=",  // non-zero unused bits
            "Zm9v!",  // not in the alphabet
            "Zm9v-_",  // URL-safe alphabet (RFC 4648 §5) is not base64
            "====",
        ])
    func malformedIsRefused(text: String) {
        #expect(decodeBase64(text) == nil)
    }
}
