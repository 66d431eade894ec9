namespace Switchboard.Identity.Data;

/// <summary>A key the OAuth server signs or encrypts tokens with, generated once and shared by every node.</summary>
internal sealed class StoredKey
{
    /// <summary><see cref="TokenKeys.SigningKeyId"/> or <see cref="TokenKeys.EncryptionKeyId"/>.</summary>
    public string Id { get; set; } = "";

    /// <summary>The key: a PKCS#8 PEM (RSA) or base64 bytes (AES).</summary>
    public string Value { get; set; } = "";

    /// <summary>When it was made, in Unix milliseconds.</summary>
    public long CreatedAt { get; set; }
}
