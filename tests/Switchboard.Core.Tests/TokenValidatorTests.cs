using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Switchboard.Auth;

namespace Switchboard.Core.Tests;

public class TokenValidatorTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_800_000_000);
    private readonly FakeTimeProvider _time = new(Now);
    private readonly TokenValidator _validator;

    public TokenValidatorTests() => _validator = new TokenValidator(TestOptions.Create(), _time);

    internal static string Jwt(string payloadJson, string secret = TestOptions.Secret, string alg = "HS256")
    {
        static string B64(byte[] b) => Convert.ToBase64String(b).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var header = B64(Encoding.UTF8.GetBytes($"{{\"alg\":\"{alg}\",\"typ\":\"JWT\"}}"));
        var payload = B64(Encoding.UTF8.GetBytes(payloadJson));
        var signature = alg == "none" ? "" : B64(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{header}.{payload}")));
        return $"{header}.{payload}.{signature}";
    }

    [Fact]
    public async Task A_valid_connection_token_gives_user_info_channels_and_expiry()
    {
        var token = Jwt($"{{\"sub\":\"alice\",\"exp\":{Now.ToUnixTimeSeconds() + 60},\"info\":{{\"name\":\"Alice\"}},\"channels\":[\"news\"]}}");
        var result = await _validator.ValidateConnectTokenAsync(token, CancellationToken.None);
        Assert.Equal("alice", result.User);
        Assert.Equal("{\"name\":\"Alice\"}", result.Info.ToString());
        Assert.Equal(["news"], result.Channels);
        Assert.Equal(Now.AddSeconds(60), result.ExpireAt);
    }

    [Fact]
    public async Task Expire_at_replaces_exp_as_the_connection_expiry()
    {
        var token = Jwt($"{{\"sub\":\"alice\",\"exp\":{Now.ToUnixTimeSeconds() + 60},\"expire_at\":{Now.ToUnixTimeSeconds() + 600}}}");
        var result = await _validator.ValidateConnectTokenAsync(token, CancellationToken.None);
        Assert.Equal(Now.AddSeconds(600), result.ExpireAt);
    }

    [Fact]
    public async Task An_expired_token_is_reported_as_expired()
    {
        var token = Jwt($"{{\"sub\":\"alice\",\"exp\":{Now.ToUnixTimeSeconds() + 60}}}");
        _time.Advance(TimeSpan.FromSeconds(61));
        var e = await Assert.ThrowsAsync<TokenException>(() => _validator.ValidateConnectTokenAsync(token, CancellationToken.None).AsTask());
        Assert.Equal(TokenError.Expired, e.Error);
    }

    [Fact]
    public async Task A_token_signed_with_another_secret_is_invalid()
    {
        var token = Jwt("{\"sub\":\"alice\"}", secret: "another-secret-another-secret-0123456789");
        var e = await Assert.ThrowsAsync<TokenException>(() => _validator.ValidateConnectTokenAsync(token, CancellationToken.None).AsTask());
        Assert.Equal(TokenError.Invalid, e.Error);
    }

    [Fact]
    public async Task An_unsigned_token_is_invalid()
    {
        var token = Jwt("{\"sub\":\"alice\"}", alg: "none");
        var e = await Assert.ThrowsAsync<TokenException>(() => _validator.ValidateConnectTokenAsync(token, CancellationToken.None).AsTask());
        Assert.Equal(TokenError.Invalid, e.Error);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("")]
    public async Task Garbage_is_invalid(string token)
    {
        var e = await Assert.ThrowsAsync<TokenException>(() => _validator.ValidateConnectTokenAsync(token, CancellationToken.None).AsTask());
        Assert.Equal(TokenError.Invalid, e.Error);
    }

    [Fact]
    public async Task Claims_of_the_wrong_type_are_invalid()
    {
        var token = Jwt("{\"sub\":\"alice\",\"channels\":\"not-a-list\"}");
        var e = await Assert.ThrowsAsync<TokenException>(() => _validator.ValidateConnectTokenAsync(token, CancellationToken.None).AsTask());
        Assert.Equal(TokenError.Invalid, e.Error);
    }

    [Fact]
    public async Task A_subscription_token_names_its_channel_and_user()
    {
        var token = Jwt($"{{\"sub\":\"alice\",\"channel\":\"$chat:x\",\"exp\":{Now.ToUnixTimeSeconds() + 60},\"info\":{{\"role\":\"admin\"}}}}");
        var result = await _validator.ValidateSubscribeTokenAsync(token, CancellationToken.None);
        Assert.Equal(("alice", "$chat:x"), (result.User, result.Channel));
        Assert.Equal("{\"role\":\"admin\"}", result.Info.ToString());
    }

    [Fact]
    public async Task A_subscription_token_without_a_channel_is_invalid()
    {
        var e = await Assert.ThrowsAsync<TokenException>(() => _validator.ValidateSubscribeTokenAsync(Jwt("{\"sub\":\"alice\"}"), CancellationToken.None).AsTask());
        Assert.Equal(TokenError.Invalid, e.Error);
    }

    [Fact]
    public async Task Without_a_configured_secret_every_token_is_invalid()
    {
        var validator = new TokenValidator(TestOptions.Create(o => o.Token.HmacSecretKey = null), _time);
        var e = await Assert.ThrowsAsync<TokenException>(() => validator.ValidateConnectTokenAsync(Jwt("{\"sub\":\"alice\"}"), CancellationToken.None).AsTask());
        Assert.Equal(TokenError.Invalid, e.Error);
    }
}
