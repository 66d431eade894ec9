using System.Security.Cryptography;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.Tokens;
using Switchboard.Auth;

namespace Switchboard.FunctionalTests;

/// <summary>
/// Keys that change: a JWKS URL whose keys rotate (each test has its own key server and its own
/// Switchboard, whose fake clock decides when a refetch is allowed), and a key source registered
/// in the services (as the built-in OAuth server does).
/// </summary>
public sealed class KeyRotationTests : IAsyncLifetime
{
    private TestIssuer? _jwks;
    private ServerFixture? _server;

    private TestIssuer Jwks => _jwks!;
    private ServerFixture Server => _server!;

    public async Task InitializeAsync()
    {
        _jwks = await TestIssuer.StartAsync();
        _server = await ServerFixture.StartAsync(
            $"--Switchboard:Token:JwksUrls:0={_jwks.JwksUrl}",
            "--Switchboard:Token:KeysRefetchMinInterval=00:00:30",
            "--Switchboard:Token:KeysRefreshInterval=01:00:00");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
        if (_jwks is not null)
        {
            await _jwks.DisposeAsync();
        }
    }

    private string Claims(string user)
    {
        var now = Server.Time.GetUtcNow().ToUnixTimeSeconds();
        return $"{{\"sub\":\"{user}\",\"iat\":{now},\"exp\":{now + 3600}}}";
    }

    private Task<int> ConnectAsync(string token) => TokenAuth.ConnectOutcomeAsync(Server.WebSocketUri, token);

    [Fact]
    public async Task A_key_that_appears_at_the_jwks_url_is_accepted_after_one_refetch()
    {
        var first = Jwks.AddRsaKey("k1");
        Assert.Equal(0, await ConnectAsync(first.Sign(Claims("rita"), "RS256")));
        Assert.Equal(1, Jwks.JwksRequests);

        Server.Time.Advance(TimeSpan.FromSeconds(31));
        var second = Jwks.AddEcKey("k2"); // rotation: the new key is published
        Assert.Equal(0, await ConnectAsync(second.Sign(Claims("rita"), "ES256")));
        Assert.Equal(2, Jwks.JwksRequests);
        // Known kids are served from the cache.
        Assert.Equal(0, await ConnectAsync(first.Sign(Claims("rita"), "RS256")));
        Assert.Equal(0, await ConnectAsync(second.Sign(Claims("rita"), "ES256")));
        Assert.Equal(2, Jwks.JwksRequests);
    }

    [Fact]
    public async Task Unknown_kids_refetch_the_jwks_at_most_once_per_interval_and_stay_refused()
    {
        var known = Jwks.AddRsaKey("known");
        Assert.Equal(0, await ConnectAsync(known.Sign(Claims("uma"), "RS256")));
        Assert.Equal(1, Jwks.JwksRequests);
        Server.Time.Advance(TimeSpan.FromSeconds(31));

        var unpublished = Jwks.AddRsaKey("secret-kid", publish: false);
        Assert.Equal(3500, await ConnectAsync(unpublished.Sign(Claims("uma"), "RS256")));
        Assert.Equal(2, Jwks.JwksRequests); // looked once more, still unknown: refused
        for (var i = 0; i < 5; i++)
        {
            var stranger = new SigningKey($"forged-{i}", new RsaSecurityKey(RSA.Create(2048)) { KeyId = $"forged-{i}" });
            Assert.Equal(3500, await ConnectAsync(stranger.Sign(Claims("uma"), "RS256")));
        }
        Assert.Equal(2, Jwks.JwksRequests); // a flood of unknown kids costs the key server nothing more

        // Even a key published meanwhile waits for the interval to pass.
        Jwks.Publish("secret-kid");
        Assert.Equal(3500, await ConnectAsync(unpublished.Sign(Claims("uma"), "RS256")));
        Server.Time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(0, await ConnectAsync(unpublished.Sign(Claims("uma"), "RS256")));
        Assert.Equal(3, Jwks.JwksRequests);
        Assert.Equal(0, await ConnectAsync(known.Sign(Claims("uma"), "RS256")));
        Assert.Empty(Server.Errors.Entries);
    }

    [Fact]
    public async Task A_key_removed_from_the_jwks_is_refused_once_the_cache_is_refreshed()
    {
        var old = Jwks.AddRsaKey("old");
        Assert.Equal(0, await ConnectAsync(old.Sign(Claims("vic"), "RS256")));
        Jwks.Unpublish("old");
        Server.Time.Advance(TimeSpan.FromMinutes(61));
        Assert.Equal(3500, await ConnectAsync(old.Sign(Claims("vic"), "RS256")));
        Assert.Equal(2, Jwks.JwksRequests);
    }
}

/// <summary>A key server that does not answer: its tokens get a temporary error, others still connect.</summary>
public sealed class UnreachableKeyServerTests
{
    [Fact]
    public async Task Tokens_of_an_unreachable_jwks_url_get_a_temporary_error_and_hmac_tokens_still_connect()
    {
        // A port nothing listens on: bound, then released.
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var server = await ServerFixture.StartAsync($"--Switchboard:Token:JwksUrls:0=http://127.0.0.1:{port}/jwks");
        var now = server.Time.GetUtcNow().ToUnixTimeSeconds();
        var key = new SigningKey("k", new RsaSecurityKey(RSA.Create(2048)) { KeyId = "k" });

        Assert.Equal(100, await TokenAuth.ConnectOutcomeAsync(server.WebSocketUri, key.Sign($"{{\"sub\":\"xia\",\"exp\":{now + 60}}}", "RS256")));
        Assert.Equal(0, await TokenAuth.ConnectOutcomeAsync(server.WebSocketUri, Tokens.Connection("xia", server.Time.GetUtcNow())));
        Assert.Empty(server.Errors.Entries);
    }
}

/// <summary>A registered <see cref="ITokenKeySource"/>: its tokens connect when they carry its issuer.</summary>
public sealed class TokenKeySourceTests
{
    private sealed class TestKeySource(SecurityKey key) : ITokenKeySource
    {
        public string Issuer => "https://built-in.test";

        public ValueTask<IReadOnlyCollection<SecurityKey>> GetKeysAsync(CancellationToken cancellationToken)
            => ValueTask.FromResult<IReadOnlyCollection<SecurityKey>>([key]);
    }

    [Fact]
    public async Task A_token_of_a_registered_key_source_connects_only_with_its_issuer()
    {
        var ec = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var signing = new SigningKey("built-in-1", new ECDsaSecurityKey(ec) { KeyId = "built-in-1" });
        var publicOnly = new ECDsaSecurityKey(ECDsa.Create(ec.ExportParameters(false))) { KeyId = "built-in-1" };
        await using var server = await InProcessServer.StartAsync([], services => services.AddSingleton<ITokenKeySource>(new TestKeySource(publicOnly)));
        var now = server.Time.GetUtcNow().ToUnixTimeSeconds();
        string Claims(string iss) => $"{{\"sub\":\"wren\",\"iss\":\"{iss}\",\"aud\":\"switchboard\",\"iat\":{now},\"exp\":{now + 600}}}";

        Assert.Equal(0, await TokenAuth.ConnectOutcomeAsync(server.WebSocketUri, signing.Sign(Claims("https://built-in.test"), "ES256")));
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(server.WebSocketUri, signing.Sign(Claims("https://elsewhere.test"), "ES256")));
        var impostor = new SigningKey("built-in-1", new ECDsaSecurityKey(ECDsa.Create(ECCurve.NamedCurves.nistP256)) { KeyId = "built-in-1" });
        Assert.Equal(3500, await TokenAuth.ConnectOutcomeAsync(server.WebSocketUri, impostor.Sign(Claims("https://built-in.test"), "ES256")));
        // The configured HMAC secret still works beside it.
        Assert.Equal(0, await TokenAuth.ConnectOutcomeAsync(server.WebSocketUri, Tokens.Connection("wren", server.Time.GetUtcNow())));
    }
}
