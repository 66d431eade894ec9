using Switchboard.Auth;

namespace Switchboard.Core.Tests;

public sealed class OriginListTests
{
    private static readonly OriginList Configured = new(["https://app.example.com", "http://localhost:3000"]);

    [Theory]
    [InlineData(null, "switchboard.example.com")]                          // not a browser
    [InlineData("https://switchboard.example.com", "switchboard.example.com")] // own origin, default port
    [InlineData("http://switchboard.example.com", "switchboard.example.com")]
    [InlineData("https://switchboard.example.com", "switchboard.example.com:443")]
    [InlineData("http://127.0.0.1:8000", "127.0.0.1:8000")]
    [InlineData("HTTP://Switchboard.Example.com", "switchboard.example.com")]
    [InlineData("http://[::1]:8000", "[::1]:8000")]
    [InlineData("https://app.example.com", "switchboard.example.com")]     // configured
    [InlineData("https://app.example.com:443", "switchboard.example.com")]
    [InlineData("http://localhost:3000", "switchboard.example.com")]
    public void Allows(string? origin, string host) => Assert.True(Configured.IsAllowed(origin, host));

    [Theory]
    [InlineData("https://evil.example", "switchboard.example.com")]
    [InlineData("null", "switchboard.example.com")]
    [InlineData("", "switchboard.example.com")]
    [InlineData("https://switchboard.example.com:8443", "switchboard.example.com")]  // another port
    [InlineData("http://127.0.0.1:8001", "127.0.0.1:8000")]
    [InlineData("http://app.example.com", "switchboard.example.com")]      // configured with https only
    [InlineData("https://app.example.com.evil.example", "switchboard.example.com")]
    [InlineData("http://localhost:3001", "switchboard.example.com")]
    [InlineData("https://switchboard.example.com", "")]
    [InlineData("https://switchboard.example.com", "switchboard.example.com/x")]
    [InlineData("chrome-extension://abcdef", "abcdef")]
    public void Refuses(string origin, string host) => Assert.False(Configured.IsAllowed(origin, host));

    [Fact]
    public void A_star_allows_every_origin() => Assert.True(new OriginList(["*"]).IsAllowed("https://evil.example", "switchboard.example.com"));

    [Theory]
    [InlineData("*", true)]
    [InlineData("https://app.example.com", true)]
    [InlineData("http://localhost:3000", true)]
    [InlineData("app.example.com", false)]
    [InlineData("https://app.example.com/", false)]
    [InlineData("https://app.example.com/path", false)]
    [InlineData("https://app.example.com?x=1", false)]
    [InlineData("https://user@app.example.com", false)]
    [InlineData("https://*.example.com", false)]
    public void Validates_configured_entries(string entry, bool valid) => Assert.Equal(valid, OriginList.IsValidEntry(entry));
}
