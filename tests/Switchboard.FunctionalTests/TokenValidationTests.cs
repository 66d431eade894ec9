using System.Security.Cryptography;
using Microsoft.IdentityModel.Tokens;

namespace Switchboard.FunctionalTests;

/// <summary>
/// One server trusting every kind of key source at once: the HMAC secret, an RSA key as PEM text,
/// an EC key as a PEM file, a JWKS URL (host A) and an external OpenID Connect issuer found by
/// discovery (B, with its own audience). Tokens of the pool (HMAC, PEM, JWKS) must carry
/// <c>iss</c> https://app.example and <c>aud</c> switchboard-tests.
/// </summary>
public sealed class TokenServers : IAsyncLifetime
{
    public const string Issuer = "https://app.example";
    public const string Audience = "switchboard-tests";
    public const string IssuerBAudience = "b-audience";
    // 64 bytes: Microsoft.IdentityModel checks HS384 and HS512 only with keys of at least 48 and 64 bytes.
    public const string Secret = "token-tests-hmac-secret-long-enough-for-hs512-0123456789abcdefghij";

    private TestIssuer? _a;
    private TestIssuer? _b;
    private ServerFixture? _server;
    private string? _ecPemFile;

    internal TestIssuer JwksHost => _a!;
    internal TestIssuer Oidc => _b!;
    public ServerFixture Server => _server!;

    internal SigningKey PemRsa { get; } = new("pem-rsa", new RsaSecurityKey(RSA.Create(2048)));
    internal SigningKey PemEc { get; } = new("pem-ec", new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)));
    internal SigningKey JwksRsa { get; private set; } = null!;
    internal SigningKey JwksEc { get; private set; } = null!;
    internal SigningKey OidcRsa { get; private set; } = null!;
    internal SigningKey OidcEc { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        _a = await TestIssuer.StartAsync();
        _b = await TestIssuer.StartAsync();
        JwksRsa = _a.AddRsaKey("a-rsa");
        JwksEc = _a.AddEcKey("a-ec");
        OidcRsa = _b.AddRsaKey("b-rsa");
        OidcEc = _b.AddEcKey("b-ec");
        _ecPemFile = Path.GetTempFileName();
        await File.WriteAllTextAsync(_ecPemFile, PemEc.PublicPem);
        _server = await ServerFixture.StartAsync(
            $"--Switchboard:Token:HmacSecretKey={Secret}",
            $"--Switchboard:Token:Issuer={Issuer}",
            $"--Switchboard:Token:Audience={Audience}",
            "--Switchboard:Token:ClockSkew=00:00:05",
            $"--Switchboard:Token:PublicKeys:0={PemRsa.PublicPem}",
            $"--Switchboard:Token:PublicKeys:1={_ecPemFile}",
            $"--Switchboard:Token:JwksUrls:0={_a.JwksUrl}",
            $"--Switchboard:Token:Issuers:0:Authority={_b.Issuer}",
            $"--Switchboard:Token:Issuers:0:Audience={IssuerBAudience}");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        if (_a is not null)
        {
            await _a.DisposeAsync();
        }
        if (_b is not null)
        {
            await _b.DisposeAsync();
        }
        if (_ecPemFile is not null)
        {
            File.Delete(_ecPemFile);
        }
    }
}

public sealed class TokenValidationTests(TokenServers servers) : IClassFixture<TokenServers>
{
    private ServerFixture Server => servers.Server;

    private long Now => Server.Time.GetUtcNow().ToUnixTimeSeconds();

    private string Claims(string user, int ttl = 3600, string iss = TokenServers.Issuer, string aud = TokenServers.Audience, string extra = "")
        => $"{{\"sub\":\"{user}\",\"iss\":\"{iss}\",\"aud\":\"{aud}\",\"iat\":{Now},\"exp\":{Now + ttl}{extra}}}";

    private static string Hs256(string claims) => Tokens.Jwt(claims, TokenServers.Secret);

    private Task<int> ConnectAsync(string token) => TokenAuth.ConnectOutcomeAsync(Server.WebSocketUri, token);

    // After every refusal the server still serves a good client, and logged no error.
    private async Task AssertServerHealthyAsync()
    {
        Assert.Equal(0, await ConnectAsync(Hs256(Claims("healthy"))));
        Assert.Empty(Server.Errors.Entries);
    }

    [Theory]
    [InlineData("HS256")]
    [InlineData("HS384")]
    [InlineData("HS512")]
    public async Task Hmac_tokens_signed_with_the_secret_connect(string alg)
    {
        var key = new SymmetricSecurityKey(System.Text.Encoding.UTF8.GetBytes(TokenServers.Secret));
        var token = new Microsoft.IdentityModel.JsonWebTokens.JsonWebTokenHandler().CreateToken(Claims("hmac-user"), new SigningCredentials(key, alg));
        Assert.Equal(0, await ConnectAsync(token));
    }

    [Theory]
    [InlineData("RS256")]
    [InlineData("RS384")]
    [InlineData("RS512")]
    [InlineData("PS256")]
    [InlineData("PS384")]
    [InlineData("PS512")]
    public async Task Rsa_tokens_signed_with_a_configured_pem_key_connect(string alg)
        => Assert.Equal(0, await ConnectAsync(servers.PemRsa.Sign(Claims("rsa-user"), alg)));

    [Fact]
    public async Task Ecdsa_tokens_signed_with_a_pem_key_from_a_file_connect()
        => Assert.Equal(0, await ConnectAsync(servers.PemEc.Sign(Claims("ec-user"), "ES256")));

    [Theory]
    [InlineData("RS256")]
    [InlineData("PS256")]
    public async Task Rsa_tokens_signed_with_a_key_of_the_jwks_url_connect(string alg)
        => Assert.Equal(0, await ConnectAsync(servers.JwksRsa.Sign(Claims("jwks-user"), alg)));

    [Fact]
    public async Task Ecdsa_tokens_signed_with_a_key_of_the_jwks_url_connect()
        => Assert.Equal(0, await ConnectAsync(servers.JwksEc.Sign(Claims("jwks-ec-user"), "ES256")));

    [Theory]
    [InlineData("RS256")]
    [InlineData("ES256")]
    public async Task A_token_of_the_external_oidc_issuer_connects_as_its_subject(string alg)
    {
        var key = alg == "RS256" ? servers.OidcRsa : servers.OidcEc;
        var token = key.Sign(Claims("oidc-user", iss: servers.Oidc.Issuer, aud: TokenServers.IssuerBAudience), alg);
        await using var client = await Server.ConnectAsync(token);
        await Poll.UntilAsync(() => Task.FromResult(Server.Node.Hub.UserClients("oidc-user").Count > 0), "the user is connected");
        // Discovery and keys were read once and cached (no test here names an unknown kid of this issuer).
        Assert.Equal(1, servers.Oidc.DiscoveryRequests);
        Assert.Equal(1, servers.Oidc.JwksRequests);
    }

    [Fact]
    public async Task A_token_of_the_external_issuer_for_the_global_audience_is_refused_3500()
    {
        // Issuer B has its own audience; the global one does not apply to it.
        var token = servers.OidcRsa.Sign(Claims("oidc-user", iss: servers.Oidc.Issuer, aud: TokenServers.Audience), "RS256");
        Assert.Equal(3500, await ConnectAsync(token));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task A_token_signed_by_the_external_issuer_but_claiming_another_issuer_is_refused_3500()
    {
        var token = servers.OidcRsa.Sign(Claims("mallory", iss: TokenServers.Issuer), "RS256");
        Assert.Equal(3500, await ConnectAsync(token));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task An_expired_token_is_refused_with_109_so_the_client_gets_a_new_one()
    {
        Assert.Equal(109, await ConnectAsync(servers.PemRsa.Sign(Claims("late", ttl: -60), "RS256")));
        Assert.Equal(109, await ConnectAsync(servers.OidcEc.Sign(Claims("late", ttl: -60, iss: servers.Oidc.Issuer, aud: TokenServers.IssuerBAudience), "ES256")));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task A_token_not_valid_yet_beyond_the_clock_skew_is_refused_3500_and_within_it_connects()
    {
        Assert.Equal(3500, await ConnectAsync(servers.PemRsa.Sign(Claims("early", extra: $",\"nbf\":{Now + 60}"), "RS256")));
        Assert.Equal(0, await ConnectAsync(servers.PemRsa.Sign(Claims("early", extra: $",\"nbf\":{Now + 3}"), "RS256")));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task A_token_for_another_audience_is_refused_3500()
    {
        Assert.Equal(3500, await ConnectAsync(Hs256(Claims("aud", aud: "someone-else"))));
        Assert.Equal(3500, await ConnectAsync(servers.JwksRsa.Sign(Claims("aud", aud: "someone-else"), "RS256")));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task A_token_of_another_issuer_is_refused_3500()
    {
        Assert.Equal(3500, await ConnectAsync(Hs256(Claims("iss", iss: "https://other.example"))));
        Assert.Equal(3500, await ConnectAsync(servers.PemEc.Sign(Claims("iss", iss: "https://other.example"), "ES256")));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task A_token_with_a_tampered_payload_is_refused_3500()
    {
        var genuine = servers.PemRsa.Sign(Claims("alice"), "RS256");
        Assert.Equal(0, await ConnectAsync(genuine));
        Assert.Equal(3500, await ConnectAsync(ForgedTokens.WithPayload(genuine, Claims("admin"))));
        var genuineEc = servers.JwksEc.Sign(Claims("alice"), "ES256");
        Assert.Equal(3500, await ConnectAsync(ForgedTokens.WithPayload(genuineEc, Claims("admin"))));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task An_unsigned_token_with_alg_none_is_refused_3500()
    {
        Assert.Equal(3500, await ConnectAsync(ForgedTokens.Unsigned(Claims("admin"))));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task An_hmac_token_keyed_with_a_trusted_rsa_public_key_is_refused_3500()
    {
        // The classic confusion: the public key (known to everyone) used as an HMAC secret.
        Assert.Equal(3500, await ConnectAsync(ForgedTokens.Hmac(Claims("admin"), servers.PemRsa.PublicPem)));
        Assert.Equal(0, await ConnectAsync(ForgedTokens.Hmac(Claims("admin"), TokenServers.Secret))); // the same forgery with the real secret passes
        Assert.Equal(3500, await ConnectAsync(ForgedTokens.Hmac(Claims("admin"), servers.JwksRsa.PublicJwk(), kid: servers.JwksRsa.Kid)));
        Assert.Equal(3500, await ConnectAsync(ForgedTokens.Hmac(Claims("admin", iss: servers.Oidc.Issuer, aud: TokenServers.IssuerBAudience), servers.OidcRsa.PublicPem, kid: servers.OidcRsa.Kid)));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task A_token_signed_with_an_unknown_key_is_refused_3500()
    {
        var stranger = new SigningKey("nobody-knows", new RsaSecurityKey(RSA.Create(2048)) { KeyId = "nobody-knows" });
        Assert.Equal(3500, await ConnectAsync(stranger.Sign(Claims("mallory"), "RS256")));
        await AssertServerHealthyAsync();
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("eyJhbGciOiJIUzI1NiJ9.e30")]
    [InlineData("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOjF9.AAAA")]
    [InlineData("....")]
    public async Task A_garbage_token_is_refused_3500(string token)
    {
        Assert.Equal(3500, await ConnectAsync(token));
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task Subscription_tokens_signed_with_rsa_and_ecdsa_keys_open_private_channels_and_a_forged_one_is_refused_3500()
    {
        await using var client = await Server.ConnectAsync(servers.PemRsa.Sign(Claims("sia"), "PS256"));
        string SubClaims(string channel) => $"{{\"sub\":\"sia\",\"channel\":\"{channel}\",\"iss\":\"{TokenServers.Issuer}\",\"aud\":\"{TokenServers.Audience}\",\"exp\":{Now + 600}}}";
        foreach (var (channel, token) in new[]
        {
            ("$secret:es", servers.JwksEc.Sign(SubClaims("$secret:es"), "ES256")),
            ("$secret:rs", servers.PemRsa.Sign(SubClaims("$secret:rs"), "RS512")),
            ("$secret:hs", Hs256(SubClaims("$secret:hs"))),
        })
        {
            var reply = await client.CommandAsync($"\"subscribe\":{{\"channel\":\"{channel}\",\"token\":\"{token}\"}}");
            Assert.True(reply.TryGetProperty("subscribe", out _), reply.ToString());
        }
        var forged = ForgedTokens.Hmac(SubClaims("$secret:x"), servers.PemRsa.PublicPem);
        await client.SendRawAsync($"{{\"id\":90,\"subscribe\":{{\"channel\":\"$secret:x\",\"token\":\"{forged}\"}}}}");
        Assert.Equal(3500, await client.ClosedAsync());
        await AssertServerHealthyAsync();
    }

    [Fact]
    public async Task The_openapi_document_describes_the_revocation_methods()
    {
        using var http = new HttpClient { BaseAddress = Server.BaseAddress };
        var doc = await http.GetStringAsync(new Uri("/openapi/v1.json", UriKind.Relative));
        Assert.Contains("/api/revoke_token", doc, StringComparison.Ordinal);
        Assert.Contains("/api/invalidate_user_tokens", doc, StringComparison.Ordinal);
    }
}
