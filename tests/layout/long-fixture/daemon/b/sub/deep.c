/* SPDX-License-Identifier: GPL-3.0-or-later */
int deep_1(void);
int deep_2(void);
int deep_3(void);
int deep_4(void);
int deep_5(void);
int deep_6(void);
int deep_7(void);
int deep_8(void);
int deep_9(void);
int deep_10(void);
int deep_11(void);
