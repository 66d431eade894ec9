using System.Security.Cryptography;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Channels;
using Switchboard.Engine;

namespace Switchboard.Core.Tests;

public class TokenKeyOptionsTests
{
    private static IEnumerable<string> Failures(Action<SwitchboardOptions> configure)
        => new SwitchboardOptionsValidator().Validate(null, TestOptions.Create(configure).Value).Failures ?? [];

    [Fact]
    public void Rsa_and_ec_public_keys_as_pem_text_are_accepted()
    {
        using var rsa = RSA.Create(2048);
        using var ec = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        Assert.Empty(Failures(o => o.Token.PublicKeys = [rsa.ExportSubjectPublicKeyInfoPem(), ec.ExportSubjectPublicKeyInfoPem()]));
    }

    [Fact]
    public void A_public_key_that_is_neither_pem_nor_a_readable_file_is_named_in_the_error()
    {
        Assert.Contains(Failures(o => o.Token.PublicKeys = ["/no/such/key.pem"]), f => f.StartsWith("Switchboard:Token:PublicKeys:0:", StringComparison.Ordinal));
        Assert.Contains(Failures(o => o.Token.PublicKeys = ["-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----"]), f => f.StartsWith("Switchboard:Token:PublicKeys:0:", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("http://keys.example/jwks")]
    [InlineData("not a url")]
    [InlineData("ftp://127.0.0.1/jwks")]
    public void A_jwks_url_that_is_not_https_or_loopback_http_is_refused(string url)
        => Assert.Contains(Failures(o => o.Token.JwksUrls = [url]), f => f.StartsWith("Switchboard:Token:JwksUrls:0:", StringComparison.Ordinal));

    [Theory]
    [InlineData("https://keys.example/jwks")]
    [InlineData("http://127.0.0.1:5000/jwks")]
    [InlineData("http://localhost/jwks")]
    public void Https_and_loopback_http_jwks_urls_are_accepted(string url)
        => Assert.Empty(Failures(o => o.Token.JwksUrls = [url]));

    [Fact]
    public void An_issuer_without_authority_is_refused_with_its_key()
        => Assert.Contains(Failures(o => o.Token.Issuers = [new TokenIssuerOptions { Audience = "x" }]), f => f.StartsWith("Switchboard:Token:Issuers:0:Authority", StringComparison.Ordinal));

    [Fact]
    public async Task The_memory_revocation_store_forgets_entries_once_their_tokens_expired_anyway()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(20000));
        var store = new MemoryTokenRevocationStore(time);
        var now = time.GetUtcNow();
        await store.RevokeTokenAsync("j1", now.AddMinutes(10), CancellationToken.None);
        await store.InvalidateUserTokensAsync("u1", now, now.AddMinutes(10), CancellationToken.None);

        Assert.True(await store.IsRevokedAsync("j1", null, null, CancellationToken.None));
        Assert.True(await store.IsRevokedAsync(null, "u1", now.AddSeconds(-1), CancellationToken.None));
        Assert.True(await store.IsRevokedAsync(null, "u1", null, CancellationToken.None));
        Assert.False(await store.IsRevokedAsync(null, "u1", now, CancellationToken.None));
        Assert.False(await store.IsRevokedAsync("j2", "u2", null, CancellationToken.None));

        // An earlier time does not lower the bar.
        await store.InvalidateUserTokensAsync("u1", now.AddHours(-1), now.AddMinutes(10), CancellationToken.None);
        Assert.True(await store.IsRevokedAsync(null, "u1", now.AddSeconds(-1), CancellationToken.None));

        time.Advance(TimeSpan.FromMinutes(11));
        Assert.False(await store.IsRevokedAsync("j1", "u1", null, CancellationToken.None));
    }
}
