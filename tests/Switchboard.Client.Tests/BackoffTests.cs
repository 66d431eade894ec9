namespace Switchboard.Client.Tests;

public sealed class BackoffTests
{
    private static readonly TimeSpan Min = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan Max = TimeSpan.FromSeconds(20);

    [Theory]
    [InlineData(0.0, 500)]
    [InlineData(0.5, 750)]
    [InlineData(0.999, 999)]
    public void The_first_delay_is_the_minimum_plus_a_random_share_of_it(double random, int expectedMs)
        => Assert.Equal(expectedMs, (int)Backoff.Delay(0, Min, Max, random).TotalMilliseconds);

    [Fact]
    public void The_jitter_range_doubles_with_each_attempt()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(500 + 1000), Backoff.Delay(1, Min, Max, 1.0));
        Assert.Equal(TimeSpan.FromMilliseconds(500 + 2000), Backoff.Delay(2, Min, Max, 1.0));
        Assert.Equal(TimeSpan.FromMilliseconds(500 + 4000), Backoff.Delay(3, Min, Max, 1.0));
    }

    [Theory]
    [InlineData(6)]
    [InlineData(40)]
    [InlineData(int.MaxValue)]
    public void The_delay_never_exceeds_the_maximum(int attempt)
    {
        Assert.Equal(Max, Backoff.Delay(attempt, Min, Max, 0.99));
        Assert.Equal(Min, Backoff.Delay(attempt, Min, Max, 0.0));
    }

    [Theory]
    [InlineData(3000, true)]
    [InlineData(3011, true)]
    [InlineData(3499, true)]
    [InlineData(4000, true)]
    [InlineData(4499, true)]
    [InlineData(1006, true)]
    [InlineData(3500, false)]
    [InlineData(3503, false)]
    [InlineData(3999, false)]
    [InlineData(4500, false)]
    [InlineData(4999, false)]
    public void Close_codes_decide_whether_to_reconnect(int code, bool reconnect)
        => Assert.Equal(reconnect, DisconnectCodes.ShouldReconnect(code));
}
